"""Staff and Accounts (auth) searched and sorted (R-UI-5): staff by name either way beside its search,
auth accounts by the start of an email (a key prefix of the email index) either way; bad parameters are
422s in words."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import api_event, bootstrap_admin, call
from tests.integration.test_staff_handlers import hire


@pytest.fixture()
def staff(as_function):
    """The staff API with its template environment (as test_staff_handlers' fixture of the same name)."""
    as_function("StaffApiFunction")
    from staff import api

    def request(method, path, body=None, query=None):
        admin = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}
        return call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=admin, query=query))

    return request


@pytest.fixture()
def admin_api(as_function):
    """The auth API with its template environment, and an admin to call it as."""
    admin = bootstrap_admin(as_function, f"admin-{uuid.uuid4().hex[:6]}@ates.example")
    as_function("AuthApiFunction")
    from auth import api

    caller = {"sub": admin["employee_id"], "roles": "admin", "department_id": "", "active": "true"}
    return lambda query: call(api.lambda_handler, api_event("GET", "/api/auth/accounts", caller=caller, query=query))


def test_r_ui_5_staff_sorts_by_name_either_way_within_a_search(staff):
    tag = uuid.uuid4().hex[:8]
    for name in (f"Beta {tag}", f"alpha {tag}", f"Gamma {tag}"):
        hire(staff, name=name)
    status, page = staff("GET", "/staff/employees", query={"q": tag})
    assert status == 200 and [e["name"] for e in page["items"]] == [f"alpha {tag}", f"Beta {tag}", f"Gamma {tag}"]
    status, page = staff("GET", "/staff/employees", query={"q": tag, "sort": "name", "order": "desc"})
    assert [e["name"] for e in page["items"]] == [f"Gamma {tag}", f"Beta {tag}", f"alpha {tag}"]


@pytest.mark.parametrize("query", [{"sort": "salary"}, {"order": "down"}])
def test_r_ui_5_a_bad_staff_sort_is_a_422_in_words(staff, query):
    status, body = staff("GET", "/staff/employees", query=query)
    assert (status, body["error"]["code"]) == (422, "invalid_sort")
    assert "sorted by name" in body["error"]["message"] or "sort order" in body["error"]["message"]


def test_r_ui_5_accounts_search_the_start_of_an_email_and_sort_either_way(admin_api, as_function):
    tag = uuid.uuid4().hex[:8]
    emails = [f"find-{tag}-{letter}@ates.example" for letter in "bac"]
    for address in emails:
        bootstrap_admin(as_function, address)
    as_function("AuthApiFunction")

    def listed(**query: str) -> list[str]:
        status, page = admin_api(query)
        assert status == 200, page
        return [a["email"] for a in page["items"]]

    assert listed(q=f"FIND-{tag}") == sorted(emails)
    assert listed(q=f"find-{tag}", order="desc") == sorted(emails, reverse=True)
    assert listed(q=f"find-{tag}-c") == [f"find-{tag}-c@ates.example"]
    status, first = admin_api({"q": f"find-{tag}", "limit": "1"})
    assert first["next_cursor"]
    status, body = admin_api({"q": "zzz-other", "cursor": first["next_cursor"]})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")
    for query in ({"sort": "name"}, {"order": "sideways"}, {"q": "x" * 101}):
        status, body = admin_api(query)
        assert status == 422 and body["error"]["code"] in ("invalid_sort", "invalid_search"), body
