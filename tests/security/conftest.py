"""One devstack for the security suite alone (schemathesis leaves junk behind and the throttling tests lock
emails), with WORKERS warm processes per function so bursts meet real concurrency (R-SEC-1), and a cast
signed in once: the bootstrap admin, and one popug per single role (worker, manager,
admin, accountant) whose roles are set to exactly that role through `PUT /auth/accounts/{id}/roles`."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from devstack.launcher import Devstack
from tests.conftest import own_devstack
from tests.e2e.popugs import PASSWORD, Client, hire, invitation_link
from tests.security.openapi import ROLES

ANONYMOUS = "anonymous"
WORKERS = 8  # per function, started only when calls overlap: Lambdas side by side (R-SEC-1 needs more than 5)
CALLERS = (ANONYMOUS, *ROLES)


@dataclass
class Popug:
    client: Client
    email: str
    password: str = PASSWORD

    @property
    def employee_id(self) -> str:
        assert self.client.employee_id
        return self.client.employee_id

    @property
    def token(self) -> str:
        assert self.client.token
        return self.client.token


@dataclass
class RunningStack:
    """A devstack someone else started (`ATES_SECURITY_STATE_FILE=<its --state-file>`), to iterate quickly."""

    state: dict

    url = property(lambda self: self.state["url"].rstrip("/"))
    api_url = property(lambda self: self.state["api_url"])
    endpoint_url = property(lambda self: self.state["endpoint_url"])
    admin_email = property(lambda self: self.state["admin_email"])
    admin_password = property(lambda self: self.state["admin_password"])


@pytest.fixture(scope="package")
def stack(tmp_path_factory) -> Iterator[Devstack | RunningStack]:
    if os.environ.get("ATES_SECURITY_STATE_FILE"):
        yield RunningStack(json.loads(Path(os.environ["ATES_SECURITY_STATE_FILE"]).read_text()))
        return
    yield from own_devstack(tmp_path_factory, "security", "--workers", str(WORKERS))


@pytest.fixture(scope="package")
def admin(stack) -> Client:
    """The bootstrap admin (roles worker + admin): the one who hires, sets roles and dismisses."""
    return Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)


def onboard(stack: Devstack, admin: Client, *names: str) -> list[Popug]:
    """Hire every popug first, then follow each invitation: the events travel for all of them at once."""
    hired = [hire(admin, name) for name in names]
    popugs = []
    for _, email in hired:
        token = invitation_link(stack, email).split("token=", 1)[1]
        response = requests.post(
            f"{stack.api_url}/auth/password", json={"token": token, "password": PASSWORD}, timeout=60
        )
        assert response.status_code == 200, response.text
        popugs.append(Popug(Client.signed_in(stack.api_url, email, PASSWORD), email))
    return popugs


def set_roles(admin: Client, popug: Popug, roles: list[str]) -> Popug:
    """Give exactly `roles`, then sign in again (the authorizer reads roles per request anyway)."""
    response = admin.call("PUT", f"/auth/accounts/{popug.employee_id}/roles", {"roles": roles})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["roles"]) == sorted(roles), response.text
    return Popug(Client.signed_in(popug.client.api_url, popug.email, popug.password), popug.email)


@pytest.fixture(scope="package")
def cast(stack, admin) -> dict[str, Popug | None]:
    """Caller name -> a popug holding exactly that one role; `anonymous` -> None (no token at all)."""
    hired = onboard(stack, admin, *(f"Sec{role.capitalize()}" for role in ROLES))
    popugs: dict[str, Popug | None] = {ANONYMOUS: None}
    for role, popug in zip(ROLES, hired, strict=True):
        popugs[role] = set_roles(admin, popug, [role])
        me = popugs[role].client.call("GET", "/auth/me").json()
        assert me["roles"] == [role], me
    return popugs


@pytest.fixture(scope="package")
def fuzzer(stack, admin) -> Popug:
    """An admin of its own (roles worker + admin, as the bootstrap admin's) for schemathesis: the wrong current
    passwords it sends to change-password lock its email (R-SEC-1), which must not lock out the bootstrap
    admin that the other tests sign in as."""
    (popug,) = onboard(stack, admin, "SecFuzzer")
    return set_roles(admin, popug, ["worker", "admin"])


@pytest.fixture(scope="package")
def throwaway(stack, admin):
    """Onboard fresh popugs for tests that lock, dismiss or re-role them."""
    return lambda *names: onboard(stack, admin, *names)
