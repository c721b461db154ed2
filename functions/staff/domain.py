"""Pure staff rules: what an employee and a department are, and the tree's no-cycle rule (R-STAFF-2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from shared.errors import Conflict

RETENTION_AFTER_DISMISSAL_SECONDS = 365 * 24 * 3600  # SPEC §10: staff keeps data 1 year after dismissal


@dataclass(frozen=True)
class Employee:
    employee_id: str
    name: str
    email: str
    position: str
    department_id: str | None
    status: Literal["active", "dismissed"]
    version: int
    hired_at: str
    dismissed_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "employee_id": self.employee_id,
            "name": self.name,
            "email": self.email,
            "position": self.position,
            "department_id": self.department_id,
            "status": self.status,
            "hired_at": self.hired_at,
            "dismissed_at": self.dismissed_at,
            "version": self.version,
        }

    def changed(self, **changes: Any) -> Employee:
        return replace(self, **changes, version=self.version + 1)

    def dismissed(self, at: str) -> Employee:
        if self.status == "dismissed":
            raise Conflict("this employee is already dismissed", code="already_dismissed")
        return replace(self, status="dismissed", dismissed_at=at, version=self.version + 1)


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    parent_id: str | None
    head_id: str | None
    version: int
    members: int = 0
    children: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "name": self.name,
            "parent_id": self.parent_id,
            "head_id": self.head_id,
            "members": self.members,
            "children": self.children,
            "version": self.version,
        }

    def changed(self, **changes: Any) -> Department:
        return replace(self, **changes, version=self.version + 1)


def name_key(name: str) -> str:
    """What makes two department names the same one (R-STAFF-2, issue 18): "Nest  platform " is "nest platform"."""
    return " ".join(name.split()).casefold()


def ensure_no_cycle(department_id: str, new_parent_id: str | None, parent_of: Callable[[str], str | None]) -> None:
    """Moving `department_id` under `new_parent_id` must not put it under itself or its descendants."""
    seen: set[str] = set()
    current = new_parent_id
    while current is not None:
        if current == department_id:
            raise Conflict("a department cannot be moved under itself or one of its descendants", code="cycle")
        if current in seen:  # a corrupt tree must not hang the request
            raise Conflict("the department tree has a cycle; fix it before moving", code="cycle")
        seen.add(current)
        current = parent_of(current)


def normalise_email(email: str) -> str:
    return email.strip().lower()
