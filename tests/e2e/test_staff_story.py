"""Issue 3's story over HTTP through devstack: an admin hires a popug; the invitation arrives in the SES
mailbox; the popug sets a password from the link and signs in; an admin makes them a manager and their
next token carries the role; after dismissal their old token is refused (R-STAFF-1, R-AUTH-4, 6, 7)."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

from tests.e2e.popugs import PASSWORD, Client, eventually, invitation_link


@pytest.fixture(scope="module")
def admin(devstack) -> Client:
    return Client.signed_in(devstack.api_url, devstack.admin_email, devstack.admin_password)


def test_hire_invite_sign_in_promote_and_dismiss(devstack, admin):
    response = admin.call("POST", "/staff/departments", {"name": f"Perch {uuid.uuid4().hex[:6]}"})
    assert response.status_code == 201, response.text
    department = response.json()
    email = f"kesha-{uuid.uuid4().hex[:8]}@uberpopug.example"
    response = admin.call("POST", "/staff/employees", {"name": "Kesha", "email": email, "position": "Seed sorter",
                                                       "department_id": department["department_id"]})  # fmt: skip
    assert response.status_code == 201, response.text
    employee_id = response.json()["employee_id"]

    link = invitation_link(devstack, email)
    assert link.startswith(devstack.url)  # the link opens this very web front
    token = link.split("token=", 1)[1]
    response = requests.post(
        f"{devstack.api_url}/auth/password", json={"token": token, "password": PASSWORD}, timeout=60
    )
    assert response.status_code == 200, response.text
    again = requests.post(f"{devstack.api_url}/auth/password", json={"token": token, "password": PASSWORD}, timeout=60)
    assert again.status_code == 410 and again.json()["error"]["code"] == "invitation_gone"

    popug = Client.signed_in(devstack.api_url, email, PASSWORD)
    assert jwt.decode(popug.token, options={"verify_signature": False})["sub"] == employee_id
    assert jwt.decode(popug.token, options={"verify_signature": False})["roles"] == ["worker"]
    assert popug.call("GET", "/auth/accounts").status_code == 403  # a worker is no admin

    response = admin.call("PUT", f"/auth/accounts/{employee_id}/roles", {"roles": ["manager"]})
    assert response.status_code == 200, response.text
    assert popug.call("GET", "/auth/me").json()["roles"] == ["manager"]  # the old token sees current roles
    promoted = Client.signed_in(devstack.api_url, email, PASSWORD)
    assert jwt.decode(promoted.token, options={"verify_signature": False})["roles"] == ["manager"]

    assert admin.call("POST", f"/staff/employees/{employee_id}/dismiss").status_code == 200
    eventually(lambda: promoted.call("GET", "/auth/me").status_code == 403, "the dismissal to reach auth")
    assert popug.call("GET", "/staff/employees").status_code == 403  # every unexpired token of theirs
    response = requests.post(f"{devstack.api_url}/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
    assert response.status_code == 401


def test_bad_staff_input_is_a_clear_4xx_over_http(devstack, admin):
    malformed = admin.call("POST", "/staff/employees", {"name": "K", "email": "x", "position": "P"})
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "validation_error"
    response = admin.call("POST", "/staff/departments", {"name": "X", "parent_id": str(uuid.uuid4())})
    assert response.status_code == 422
    response = requests.post(f"{devstack.api_url}/staff/employees", data="{", timeout=60,
                             headers={"Authorization": f"Bearer {admin.token}"})  # fmt: skip
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_duplicate_department_names_are_409_even_when_two_admins_create_at_once(devstack, admin):
    """Issue 18: names compare trimmed and without regard to capitals; of two concurrent creates of one name
    exactly one department is made (the name's claim commits with the department, or neither does)."""
    name = f"Nest Platform {uuid.uuid4().hex[:6]}"
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda n: admin.call("POST", "/staff/departments", {"name": n}), [name, name.upper()]))
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()["error"]
    assert refused["code"] == "department_name_taken" and refused["message"].startswith("There is already a department")
    again = admin.call("POST", "/staff/departments", {"name": f"  {name.lower()} "})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "department_name_taken")
    departments = admin.call("GET", "/staff/departments?limit=100").json()["items"]
    assert [d["name"].casefold() for d in departments].count(name.casefold()) == 1


PATTERN_OR_PATH = re.compile(r"(query|path|body)\.\w|\^\[|String should|Input should|Field required|value is not")


def test_r_ui_7_the_errors_seen_read_as_sentences_over_http(admin):
    """The two cases of issue 18 and a form's: no field path, pattern or library wording; `fields` for programs."""
    long_search = admin.call("GET", "/staff/employees?q=" + "x" * 201).json()["error"]
    assert long_search["message"] == "The search text is too long: use at most 200 characters (this one has 201)."
    bad_id = admin.call("GET", "/staff/employees/not-an-id").json()["error"]
    assert bad_id["message"].startswith("The employee id is not a valid id: ids look like "), bad_id
    form = admin.call("POST", "/staff/employees", {"name": "", "email": "kesha@", "position": "P"}).json()["error"]
    assert {f["field"] for f in form["fields"]} == {"name", "email"}, form
    for error in (long_search, bad_id, form):
        assert not PATTERN_OR_PATH.search(error["message"]), error
