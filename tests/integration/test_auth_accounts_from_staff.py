"""Auth reacting to staff events on the emulator (R-AUTH-4, 6, 7; R-EV-3): accounts, invitations,
roles, dismissal; every event delivered twice and out of order."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest

from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.staff import EmployeeDismissedV1, EmployeeHiredV1, EmployeeUpdatedV1
from tests.events import deliver
from tests.integration.conftest import LambdaContext, api_event, call

ADMIN = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}


def hired(employee_id, version=1, email=None, department_id=None, model=EmployeeHiredV1):
    return REGISTRY.envelope(model(
        employee_id=employee_id, version=version, name="Kesha", email=email or f"{employee_id[:8]}@uberpopug.example",
        position="Seed sorter", department_id=department_id,
    ))  # fmt: skip


def dismissed(employee_id, version):
    return REGISTRY.envelope(EmployeeDismissedV1(employee_id=employee_id, version=version,
                                                 dismissed_at=datetime.now(UTC)))  # fmt: skip


@pytest.fixture()
def auth(as_function):
    env = as_function("AuthOnEmployeeChangedFunction")
    from auth import on_employee_changed

    as_function("AuthApiFunction")
    from auth import api, authorizer, store

    class Auth:
        consume = staticmethod(on_employee_changed.lambda_handler)
        table = env["AUTH_TABLE_NAME"]

        @staticmethod
        def request(method, path, body=None, caller=ADMIN):
            return call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=caller))

        @staticmethod
        def account(employee_id):
            return store.get_account(employee_id)

        @staticmethod
        def authorize(token):
            return authorizer.lambda_handler(
                {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": "arn:x"}, LambdaContext()
            )

    return Auth


def mails_to(table: str, address: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return [i for i in items if i["pk"]["S"].startswith("MAIL#") and i["to"]["S"] == address]


def outbox(table: str, account_id: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    events = [e for i in items if i["pk"]["S"].startswith("OUTBOX#") for e in json.loads(i["events"]["S"])]
    return sorted((e for e in events if e["data"].get("account_id") == account_id), key=lambda e: e["event_time"])


def invitation_token(table: str, address: str) -> str:
    (mail,) = mails_to(table, address)
    return re.search(r"token=([\w-]+)", mail["text"]["S"]).group(1)


def test_r_auth_4_a_hire_creates_a_worker_account_with_one_invitation_even_if_delivered_twice(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    assert deliver(auth.consume, event, event) == {"batchItemFailures": []}
    deliver(auth.consume, event)
    account = auth.account(employee_id)
    assert account.roles == ("worker",) and account.active
    assert len(mails_to(auth.table, event.data["email"])) == 1
    assert [e["event_name"] for e in outbox(auth.table, employee_id)] == ["AccountCreated"]


def test_r_auth_4_the_invitation_link_sets_a_password_once(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    deliver(auth.consume, event)
    token = invitation_token(auth.table, event.data["email"])

    assert auth.request("POST", "/auth/password", {"token": token, "password": "short"})[0] == 422
    status, _ = auth.request("POST", "/auth/password", {"token": token, "password": "sunflower-seeds-42"})
    assert status == 200
    status, body = auth.request("POST", "/auth/login", {"email": event.data["email"], "password": "sunflower-seeds-42"})
    assert status == 200 and body["access_token"]
    status, body = auth.request("POST", "/auth/password", {"token": token, "password": "another-seeds-43"})
    assert (status, body["error"]["code"]) == (410, "invitation_gone")


def test_r_auth_4_an_unknown_or_expired_invitation_is_410(auth):
    assert auth.request("POST", "/auth/password", {"token": "x" * 43, "password": "sunflower-seeds-42"})[0] == 410
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    deliver(auth.consume, event)
    token = invitation_token(auth.table, event.data["email"])
    from auth import store

    client("dynamodb").update_item(
        TableName=auth.table, Key={"pk": {"S": f"INVITE#{store.token_hash(token)}"}, "sk": {"S": "INVITE"}},
        UpdateExpression="SET valid_until = :past", ExpressionAttributeValues={":past": {"N": "1"}},
    )  # fmt: skip
    assert auth.request("POST", "/auth/password", {"token": token, "password": "sunflower-seeds-42"})[0] == 410


def signed_in(auth, event) -> str:
    deliver(auth.consume, event)
    token = invitation_token(auth.table, event.data["email"])
    auth.request("POST", "/auth/password", {"token": token, "password": "sunflower-seeds-42"})
    return auth.request("POST", "/auth/login", {"email": event.data["email"], "password": "sunflower-seeds-42"})[1][
        "access_token"
    ]


def test_r_auth_4_a_dismissed_popugs_unexpired_token_is_refused_from_the_next_request(auth):
    employee_id = str(uuid.uuid4())
    token = signed_in(auth, hired(employee_id))
    assert auth.authorize(token)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    deliver(auth.consume, dismissed(employee_id, 2))
    assert auth.authorize(token)["policyDocument"]["Statement"][0]["Effect"] == "Deny"
    assert [e["event_name"] for e in outbox(auth.table, employee_id)] == ["AccountCreated", "AccountRolesChanged"]
    assert outbox(auth.table, employee_id)[-1]["data"]["active"] is False


def test_an_email_change_in_staff_changes_the_login(auth):
    employee_id = str(uuid.uuid4())
    first = hired(employee_id)
    signed_in(auth, first)
    new_email = f"new-{employee_id[:8]}@uberpopug.example"
    deliver(auth.consume, hired(employee_id, 2, email=new_email, model=EmployeeUpdatedV1))
    assert auth.request("POST", "/auth/login", {"email": new_email, "password": "sunflower-seeds-42"})[0] == 200
    assert (
        auth.request("POST", "/auth/login", {"email": first.data["email"], "password": "sunflower-seeds-42"})[0] == 401
    )


def test_r_ev_3_out_of_order_updates_settle_on_the_newest(auth):
    employee_id = str(uuid.uuid4())
    newest = hired(employee_id, 3, email=f"v3-{employee_id[:8]}@uberpopug.example", model=EmployeeUpdatedV1)
    older = hired(employee_id, 2, email=f"v2-{employee_id[:8]}@uberpopug.example", model=EmployeeUpdatedV1)
    deliver(auth.consume, newest, older, hired(employee_id, 1), newest)
    assert auth.account(employee_id).email == newest.data["email"]
    assert len(mails_to(auth.table, newest.data["email"])) == 1  # one invitation, to the current email


def test_r_ev_3_a_dismissal_seen_before_the_hire_keeps_the_account_inactive(auth):
    employee_id = str(uuid.uuid4())
    deliver(auth.consume, dismissed(employee_id, 2), hired(employee_id, 1))
    assert auth.account(employee_id).active is False


def test_r_auth_6_a_department_grant_before_auth_heard_of_its_employees_still_applies(auth):
    department_id, employee_id = str(uuid.uuid4()), str(uuid.uuid4())
    status, body = auth.request("PUT", f"/auth/departments/{department_id}/roles", {"roles": ["accountant"]})
    assert status == 200 and body["accounts_changed"] == 0
    deliver(auth.consume, hired(employee_id, department_id=department_id))
    assert auth.account(employee_id).roles == ("worker", "accountant")
    assert auth.request("GET", f"/auth/departments/{department_id}/roles")[1]["roles"] == ["accountant"]


def test_r_auth_6_7_granting_a_department_updates_its_accounts_and_announces_it(auth):
    department_id, employee_id = str(uuid.uuid4()), str(uuid.uuid4())
    deliver(auth.consume, hired(employee_id, department_id=department_id))
    status, body = auth.request("PUT", f"/auth/departments/{department_id}/roles", {"roles": ["manager"]})
    assert status == 200 and body["accounts_changed"] == 1
    changed = outbox(auth.table, employee_id)[-1]
    assert changed["event_name"] == "AccountRolesChanged"
    assert changed["data"]["roles"] == ["worker", "manager"] and changed["data"]["version"] == 2


def test_r_auth_6_a_grant_racing_another_change_finishes_and_every_account_ends_with_the_last_grant(auth, monkeypatch):
    """While a grant reads a chunk of the department's accounts, another admin grants the department other
    roles and edits one of its accounts: the first grant's write fails its condition and is made again from
    what is stored now, instead of a 500; every account ends with the grant stored last, and the edit stays."""
    from auth import api, store

    department_id = str(uuid.uuid4())
    employees = [str(uuid.uuid4()) for _ in range(3)]
    for employee_id in employees:
        deliver(auth.consume, hired(employee_id, department_id=department_id))
    reads = store.accounts_in_department

    def raced(*args, **kwargs):
        page = reads(*args, **kwargs)
        if not raced.done:  # between this read and its write: the other admin's two requests
            raced.done = True
            assert auth.request("PUT", f"/auth/departments/{department_id}/roles", {"roles": ["accountant"]})[0] == 200
            assert auth.request("PUT", f"/auth/accounts/{employees[0]}/roles", {"roles": ["admin"]})[0] == 200
        return page

    raced.done = False
    monkeypatch.setattr(api.store, "accounts_in_department", raced)
    status, body = auth.request("PUT", f"/auth/departments/{department_id}/roles", {"roles": ["manager"]})
    assert status == 200 and body["roles"] == ["manager"]
    assert auth.request("GET", f"/auth/departments/{department_id}/roles")[1]["roles"] == ["accountant"]
    assert [auth.account(e).roles for e in employees] == [
        ("admin", "accountant"),
        ("worker", "accountant"),
        ("worker", "accountant"),
    ]  # fmt: skip (the grant stored last; the edit's own roles kept)


def test_r_auth_6_admins_set_an_accounts_roles_and_the_next_token_carries_them(auth):
    employee_id = str(uuid.uuid4())
    token = signed_in(auth, hired(employee_id))
    status, body = auth.request("PUT", f"/auth/accounts/{employee_id}/roles", {"roles": ["manager"]})
    assert status == 200 and body["roles"] == ["manager"]
    assert auth.authorize(token)["context"]["roles"] == "manager"  # current roles, even on an old token
    status, body = auth.request("PUT", f"/auth/accounts/{employee_id}/roles", {"roles": ["emperor"]})
    assert status == 422


def test_role_routes_are_for_admins_only(auth):
    worker = {**ADMIN, "roles": "worker,manager"}
    assert auth.request("PUT", f"/auth/accounts/{uuid.uuid4()}/roles", {"roles": []}, caller=worker)[0] == 403
    assert auth.request("PUT", f"/auth/departments/{uuid.uuid4()}/roles", {"roles": []}, caller=worker)[0] == 403


def test_change_password_needs_the_current_one(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    signed_in(auth, event)
    me = {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}
    body = {"current_password": "wrong-password-1", "new_password": "brand-new-seeds-7"}
    assert auth.request("POST", "/auth/password/change", body, caller=me)[0] == 422
    body["current_password"] = "sunflower-seeds-42"
    assert auth.request("POST", "/auth/password/change", body, caller=me)[0] == 200
    assert (
        auth.request("POST", "/auth/login", {"email": event.data["email"], "password": "brand-new-seeds-7"})[0] == 200
    )


def test_r_sec_1_guessing_the_current_password_counts_against_the_sign_in_lock_out(auth):
    """A stolen token is no unlimited password oracle: five wrong current passwords lock the email, for
    change-password and sign-in alike, even for the right password."""
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    signed_in(auth, event)
    me = {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}
    for attempt in range(5):
        body = {"current_password": f"wrong-guess-{attempt}", "new_password": "brand-new-seeds-7"}
        assert auth.request("POST", "/auth/password/change", body, caller=me)[0] == 422
    right = {"current_password": "sunflower-seeds-42", "new_password": "brand-new-seeds-7"}
    status, answer = auth.request("POST", "/auth/password/change", right, caller=me)
    assert (status, answer["error"]["code"]) == (429, "locked")
    login = {"email": event.data["email"], "password": "sunflower-seeds-42"}
    assert auth.request("POST", "/auth/login", login)[0] == 429


def refused(auth, token: str) -> bool:
    """The authorizer's verdict on a token: refused (401, sign in again) or allowed."""
    try:
        return auth.authorize(token)["policyDocument"]["Statement"][0]["Effect"] != "Allow"
    except Exception as error:  # "Unauthorized" is how an authorizer says 401
        assert str(error) == "Unauthorized"
        return True


def test_r_sec_3_changing_the_password_ends_every_earlier_session_but_the_new_one(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    laptop = signed_in(auth, event)
    phone = auth.request("POST", "/auth/login", {"email": event.data["email"], "password": "sunflower-seeds-42"})[1]
    me = {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}
    body = {"current_password": "sunflower-seeds-42", "new_password": "brand-new-seeds-7"}
    status, answer = auth.request("POST", "/auth/password/change", body, caller=me)
    assert status == 200 and answer["token_type"] == "Bearer"
    assert refused(auth, laptop) and refused(auth, phone["access_token"])
    assert not refused(auth, answer["access_token"])  # the session the change opened goes on
    again = auth.request("POST", "/auth/login", {"email": event.data["email"], "password": "brand-new-seeds-7"})[1]
    assert not refused(auth, again["access_token"])


def test_r_sec_3_a_password_set_from_a_new_invitation_ends_earlier_sessions(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    token = signed_in(auth, event)
    first_links = {m["pk"]["S"] for m in mails_to(auth.table, event.data["email"])}
    assert auth.request("POST", f"/auth/accounts/{employee_id}/invitation")[0] == 202
    (mail,) = [m for m in mails_to(auth.table, event.data["email"]) if m["pk"]["S"] not in first_links]
    reset = re.search(r"token=([\w-]+)", mail["text"]["S"]).group(1)
    assert auth.request("POST", "/auth/password", {"token": reset, "password": "brand-new-seeds-7"})[0] == 200
    assert refused(auth, token)


def test_r_sec_2_setting_or_changing_a_password_refuses_short_common_and_personal_ones(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    deliver(auth.consume, event)
    token = invitation_token(auth.table, event.data["email"])
    for weak, why in [
        ("seed sorter", "at least 12 characters"),
        ("password1234", "one of the most common passwords"),
        (f"kesha{employee_id[:8]}", "your name, your email"),  # the popug's name and email
        ("x" * 129, "at most 128 characters"),
    ]:
        status, body = auth.request("POST", "/auth/password", {"token": token, "password": weak})
        assert (status, body["error"]["code"]) == (422, "weak_password"), body
        assert why in body["error"]["message"]
    assert auth.request("POST", "/auth/password", {"token": token, "password": "seed sorters"})[0] == 200

    me = {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}
    body = {"current_password": "seed sorters", "new_password": "iloveyou2024"}
    status, answer = auth.request("POST", "/auth/password/change", body, caller=me)
    assert (status, answer["error"]["code"]) == (422, "weak_password")
    assert "one of the most common passwords" in answer["error"]["message"]


def test_r_auth_4_an_admin_sends_a_new_invitation_when_the_first_was_lost(auth):
    employee_id = str(uuid.uuid4())
    event = hired(employee_id)
    deliver(auth.consume, event)
    first = invitation_token(auth.table, event.data["email"])
    status, body = auth.request("POST", f"/auth/accounts/{employee_id}/invitation")
    assert status == 202 and body["email"] == event.data["email"]
    tokens = {re.search(r"token=([\w-]+)", m["text"]["S"]).group(1) for m in mails_to(auth.table, body["email"])}
    (second,) = tokens - {first}
    # R-SEC-3: the new invitation voids the older link, used or not.
    status, gone = auth.request("POST", "/auth/password", {"token": first, "password": "sunflower-seeds-42"})
    assert (status, gone["error"]["code"]) == (410, "invitation_gone")
    assert auth.request("POST", "/auth/password", {"token": second, "password": "sunflower-seeds-42"})[0] == 200
    worker = {**ADMIN, "roles": "worker"}
    assert auth.request("POST", f"/auth/accounts/{employee_id}/invitation", caller=worker)[0] == 403
    assert auth.request("POST", f"/auth/accounts/{uuid.uuid4()}/invitation")[0] == 404
    deliver(auth.consume, dismissed(employee_id, 2))
    status, body = auth.request("POST", f"/auth/accounts/{employee_id}/invitation")
    assert (status, body["error"]["code"]) == (409, "inactive_account")
