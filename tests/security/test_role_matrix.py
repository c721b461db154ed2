"""Who may call what, over HTTP through the security devstack, for EVERY operation of EVERY context's OpenAPI
document (SPEC §2, §3, §11), generated at collection time so a new route cannot skip it:

- each operation's declared access (public / any signed-in popug / `x-roles`) equals the table below, written
  from SPEC with the rule per line: a declaration that drifts, or a route nobody classified, fails;
- (the template leaves exactly the public operations without the gateway's authorizer: tests/contract/test_openapi.py);
- operation x caller (anonymous, worker, manager, admin, accountant): anonymous gets 401 `unauthorized` on
  every non-public operation, a role outside `x-roles` gets 403 `forbidden`, an admitted caller gets neither,
  and nothing is ever a 5xx. The gate runs before validation, so the matrix sends deliberately invalid bodies
  and ids that match nothing: an admitted caller gets a 4xx of the handler and nothing changes;
- a dismissed popug's unexpired token is refused from the next request on (R-AUTH-4), and a revoked role
  applies on the next request with the same token (R-AUTH-3: the authorizer reads the account per call).
"""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.popugs import eventually
from tests.security.conftest import ANONYMOUS, CALLERS, set_roles
from tests.security.openapi import PUBLIC, ROLES, SIGNED_IN, Operation, documents, operations

pytestmark = pytest.mark.slow

ADMIN, ACCOUNTANT, MANAGER = frozenset({"admin"}), frozenset({"admin", "accountant"}), frozenset({"manager", "admin"})
# (METHOD, documented path) -> (access, roles that admit, the rule that says so)
EXPECTED: dict[tuple[str, str], tuple[str, frozenset[str], str]] = {
    # auth (SPEC §3)
    ("POST", "/auth/login"): (PUBLIC, frozenset(), "R-AUTH-1"),
    ("GET", "/auth/.well-known/jwks.json"): (PUBLIC, frozenset(), "R-AUTH-2"),
    ("POST", "/auth/password"): (PUBLIC, frozenset(), "R-AUTH-4 (set password from the invitation link)"),
    ("GET", "/auth/me"): (SIGNED_IN, frozenset(), "R-AUTH-3 (the caller's own account)"),
    ("POST", "/auth/password/change"): (SIGNED_IN, frozenset(), "R-AUTH-5 (one's own password)"),
    ("GET", "/auth/accounts"): ("roles", ADMIN, "R-AUTH-1 (admins see locked_until), R-AUTH-6"),
    ("PUT", "/auth/accounts/{account_id}/roles"): ("roles", ADMIN, "R-AUTH-6"),
    ("POST", "/auth/accounts/{account_id}/invitation"): ("roles", ADMIN, "R-AUTH-4 (a new invitation link)"),
    ("GET", "/auth/departments/{department_id}/roles"): ("roles", ADMIN, "R-AUTH-6"),
    ("PUT", "/auth/departments/{department_id}/roles"): ("roles", ADMIN, "R-AUTH-6"),
    # staff (SPEC §4)
    ("GET", "/staff/employees"): (SIGNED_IN, frozenset(), "R-STAFF-1 (everyone signed in reads the directory)"),
    ("GET", "/staff/employees/{employee_id}"): (SIGNED_IN, frozenset(), "R-STAFF-1"),
    ("GET", "/staff/departments"): (SIGNED_IN, frozenset(), "R-STAFF-1 (everyone signed in reads the org chart)"),
    ("POST", "/staff/employees"): ("roles", ADMIN, "R-STAFF-1 (admins hire)"),
    ("PATCH", "/staff/employees/{employee_id}"): ("roles", ADMIN, "R-STAFF-1 (admins edit and transfer)"),
    ("POST", "/staff/employees/{employee_id}/dismiss"): ("roles", ADMIN, "R-STAFF-1 (admins dismiss)"),
    ("POST", "/staff/departments"): ("roles", ADMIN, "R-STAFF-1, R-STAFF-2"),
    ("PATCH", "/staff/departments/{department_id}"): ("roles", ADMIN, "R-STAFF-1, R-STAFF-2"),
    ("DELETE", "/staff/departments/{department_id}"): ("roles", ADMIN, "R-STAFF-1, R-STAFF-2"),
    # tasks (SPEC §5)
    ("POST", "/tasks"): (SIGNED_IN, frozenset(), "R-TASK-1 (anyone signed in creates a task)"),
    ("GET", "/tasks"): (SIGNED_IN, frozenset(), "R-TASK-5 (workers: their own, checked on the data)"),
    ("GET", "/tasks/{task_id}"): (SIGNED_IN, frozenset(), "R-TASK-5"),
    ("POST", "/tasks/{task_id}/complete"): (SIGNED_IN, frozenset(), "R-TASK-4 (the assignee: 409 otherwise)"),
    ("POST", "/tasks/shuffle"): ("roles", MANAGER, "R-TASK-3"),
    ("GET", "/tasks/shuffles/{job_id}"): ("roles", MANAGER, "R-TASK-3"),
    # accounting (SPEC §6)
    ("GET", "/accounting/me"): (SIGNED_IN, frozenset(), "R-ACC-6 (own balance)"),
    ("GET", "/accounting/me/transactions"): (SIGNED_IN, frozenset(), "R-ACC-6 (own ledger)"),
    ("GET", "/accounting/accounts"): ("roles", ACCOUNTANT, "R-ACC-6"),
    ("GET", "/accounting/accounts/{employee_id}/transactions"): (SIGNED_IN, frozenset(), "R-ACC-6 (own, for workers)"),
    ("GET", "/accounting/stats"): ("roles", ACCOUNTANT, "R-ACC-6"),
    ("POST", "/accounting/days/{day}/close"): ("roles", ADMIN, "R-ACC-5 (an admin can close any day)"),
    ("GET", "/accounting/days/{day}"): ("roles", ACCOUNTANT, "R-ACC-5 (progress of a close), R-ACC-6"),
    ("GET", "/accounting/days/{day}/preview"): ("roles", ACCOUNTANT, "R-UI-6 (what a close would do; reads only)"),
    # analytics (SPEC §7)
    ("GET", "/analytics/dashboard"): ("roles", ADMIN, "R-AN-3 (admins only)"),
    ("GET", "/analytics/most-expensive-task"): ("roles", ADMIN, "R-AN-3"),
    ("GET", "/analytics/daily"): ("roles", ADMIN, "R-AN-3"),
    ("POST", "/analytics/query"): ("roles", ADMIN, "R-AN-3 (the SQL console)"),
    ("GET", "/analytics/metrics"): ("roles", ADMIN, "R-AN-6 (saved metrics, like the console)"),
    ("POST", "/analytics/metrics"): ("roles", ADMIN, "R-AN-6"),
    ("GET", "/analytics/metrics/{metric_id}"): ("roles", ADMIN, "R-AN-6"),
    ("PUT", "/analytics/metrics/{metric_id}"): ("roles", ADMIN, "R-AN-6"),
    ("DELETE", "/analytics/metrics/{metric_id}"): ("roles", ADMIN, "R-AN-6"),
    ("POST", "/analytics/metrics/{metric_id}/run"): ("roles", ADMIN, "R-AN-6"),
    # operations (SPEC §11 "operations (admins)")
    ("GET", "/ops/dead-letters"): ("roles", ADMIN, "R-EV-4 (visible to admins)"),
    ("POST", "/ops/dead-letters/{consumer}/redrive"): ("roles", ADMIN, "R-EV-4 (redriven by admins)"),
}

INVALID_BODY = {"__matrix_probe__": True}  # every body model forbids extra fields: 422 once past the gate


def call(stack, operation: Operation, token: str | None, own_id: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = INVALID_BODY if operation.has_body else None
    return requests.request(
        operation.method, f"{stack.api_url}{operation.sample_path(own_id)}", json=body, headers=headers, timeout=60
    )


def error_code(response: requests.Response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# -- the declarations ------------------------------------------------------------------------------------


def test_every_documented_operation_is_declared_as_the_spec_says():
    declared = {(op.method, op.path): (op.access, op.roles) for op in operations()}
    expected = {key: (access, roles) for key, (access, roles, _) in EXPECTED.items()}
    unclassified = sorted(set(declared) - set(expected))
    assert not unclassified, f"operations nobody classified from SPEC (add them to EXPECTED): {unclassified}"
    missing = sorted(set(expected) - set(declared))
    assert not missing, f"operations of the SPEC no document declares any more: {missing}"
    drifted = {key: (declared[key], expected[key]) for key in declared if declared[key] != expected[key]}
    assert not drifted, f"declared (access, roles) != SPEC: {drifted}"


def test_every_document_requires_the_bearer_token_unless_an_operation_opts_out():
    for name, document in documents().items():
        scheme = document["components"]["securitySchemes"]["popugToken"]
        assert (scheme["type"], scheme["scheme"].lower()) == ("http", "bearer"), name
        assert document["security"] == [{"popugToken": []}], name
        for path, item in document["paths"].items():
            for method, operation in item.items():
                assert set(operation.get("x-roles") or []) <= set(ROLES), (
                    f"{name}: {method} {path} names an unknown role"
                )


# -- the matrix ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("operation", operations(), ids=lambda op: op.label)
def test_role_matrix(stack, cast, operation: Operation, caller: str):
    popug = cast[caller]
    role = None if caller == ANONYMOUS else caller
    response = call(stack, operation, popug.token if popug else None, popug.employee_id if popug else None)
    shown = f"{operation.label} as {caller}: {response.status_code} {response.text[:300]}"
    assert response.status_code < 500, shown
    assert response.headers.get("Content-Type", "").startswith("application/json"), shown
    if operation.admits(role):
        assert response.status_code not in (401, 403), shown
    elif role is None:
        assert (response.status_code, error_code(response)) == (401, "unauthorized"), shown
    else:
        assert (response.status_code, error_code(response)) == (403, "forbidden"), shown


# -- tokens outliving what they say ----------------------------------------------------------------------


def refused(response: requests.Response) -> bool:
    return response.status_code in (401, 403) and error_code(response) in ("unauthorized", "forbidden")


def test_r_auth_4_a_dismissed_popugs_unexpired_token_is_refused_on_every_route(stack, admin, throwaway):
    (popug,) = throwaway("SecDismissed")
    assert popug.client.call("GET", "/auth/me").status_code == 200
    assert popug.client.call("GET", "/accounting/me").status_code == 200
    dismissed = admin.call("POST", f"/staff/employees/{popug.employee_id}/dismiss")
    assert dismissed.status_code in (200, 202), dismissed.text
    # The dismissal reaches auth as an event; from then on the very same token is refused.
    eventually(lambda: refused(popug.client.call("GET", "/auth/me")), "the dismissal to reach auth")
    for operation in operations():
        if operation.access == PUBLIC:
            continue
        response = call(stack, operation, popug.token, popug.employee_id)
        assert refused(response), f"{operation.label}: {response.status_code} {response.text[:300]}"
    login = requests.post(
        f"{stack.api_url}/auth/login", json={"email": popug.email, "password": popug.password}, timeout=60
    )
    assert login.status_code == 401, login.text


def test_r_auth_3_a_revoked_role_applies_on_the_next_request_with_the_same_token(admin, throwaway):
    (popug,) = throwaway("SecDemoted")
    manager = set_roles(admin, popug, ["manager"])
    probe = f"/tasks/shuffles/{uuid.uuid4()}"
    assert manager.client.call("GET", probe).status_code == 404  # past the gate: no such job
    assert admin.call("PUT", f"/auth/accounts/{manager.employee_id}/roles", {"roles": ["worker"]}).status_code == 200
    response = manager.client.call("GET", probe)  # the token still says "manager"
    assert (response.status_code, error_code(response)) == (403, "forbidden"), response.text
