"""The contexts' OpenAPI documents (schemas/openapi/*.json) read as a list of operations with their access
declaration, at collection time: the role matrix and schemathesis are parametrized from them, so a route
added to any context is tested for every role without anyone listing it here."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ROOT / "schemas" / "openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROLES = ("worker", "manager", "admin", "accountant")
PUBLIC, SIGNED_IN = "public", "signed-in"
# Path parameters of probing requests: ids that match nothing (no side effects), a day before aTES started,
# an unknown consumer. `employee_id` is the caller's own on reads, where the handlers check ownership after
# the gate (a worker's own ledger is theirs to read); writes get an unknown id, so an admin probing
# `POST /staff/employees/{employee_id}/dismiss` dismisses nobody.
FAR_PAST_DAY = "2001-01-01"
UNKNOWN_CONSUMER = "no-such-consumer"


@dataclass(frozen=True)
class Operation:
    context: str  # the document it comes from
    method: str  # upper case
    path: str  # as documented, without /api: "/tasks/{task_id}"
    access: str  # "public", "signed-in", or "roles"
    roles: frozenset[str]  # for "roles": any one of them admits the caller
    has_body: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"\{([^}]+)\}", self.path)

    def sample_path(self, own_id: str | None = None) -> str:
        """The path with every parameter filled so that the request, once admitted, changes nothing."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name == "day":
                return FAR_PAST_DAY
            if name == "consumer":
                return UNKNOWN_CONSUMER
            if name == "employee_id" and self.method == "GET" and own_id:
                return own_id
            return str(uuid.uuid4())

        return re.sub(r"\{([^}]+)\}", value, self.path)

    def admits(self, role: str | None) -> bool:
        """Whether a caller holding exactly `role` (None: no token at all) gets past the declared gate."""
        if self.access == PUBLIC:
            return True
        if role is None:
            return False
        return self.access == SIGNED_IN or role in self.roles


def classify(document: dict, operation: dict) -> tuple[str, frozenset[str]]:
    """What the document declares: `security: []` is public, `x-roles` restricts, anything else needs a token.
    A document without the bearer scheme as its default would make every undeclared operation public."""
    security = operation.get("security", document.get("security"))
    if security == []:
        return PUBLIC, frozenset()
    roles = operation.get("x-roles")
    if roles:
        return "roles", frozenset(roles)
    return SIGNED_IN, frozenset()


@cache
def operations() -> tuple[Operation, ...]:
    found = []
    for file in sorted(DOCUMENTS.glob("*.json")):
        document = json.loads(file.read_text())
        for path, item in sorted(document.get("paths", {}).items()):
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                access, roles = classify(document, operation)
                found.append(
                    Operation(
                        context=file.stem,
                        method=method.upper(),
                        path=path,
                        access=access,
                        roles=roles,
                        has_body="requestBody" in operation,
                    )
                )
    return tuple(found)


def documents() -> dict[str, dict]:
    return {file.stem: json.loads(file.read_text()) for file in sorted(DOCUMENTS.glob("*.json"))}
