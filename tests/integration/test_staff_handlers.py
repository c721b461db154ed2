"""Staff handlers on the emulator (R-STAFF-1..3): every change emits its event, bad input stores nothing."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from shared.aws import client
from tests.integration.conftest import api_event, call

ADMIN = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}
WORKER = {**ADMIN, "sub": str(uuid.uuid4()), "roles": "worker"}


@pytest.fixture()
def staff(as_function):
    env = as_function("StaffApiFunction")
    from staff import api

    def request(method, path, body=None, caller=ADMIN, query=None):
        return call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=caller, query=query))

    request.table = env["STAFF_TABLE_NAME"]
    return request


def snapshot(table: str) -> list:
    items = client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(json.dumps(i, sort_keys=True) for i in items)


def outbox_events(table: str) -> list[dict]:
    items = client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    events = []
    for item in items:
        if item["pk"]["S"].startswith("OUTBOX#"):
            events += json.loads(item["events"]["S"])
    return sorted(events, key=lambda e: e["event_time"])


def email() -> str:
    return f"popug-{uuid.uuid4().hex[:8]}@uberpopug.example"


def hire(staff, **changes):
    body = {"name": "Kesha", "email": email(), "position": "Seed sorter", **changes}
    status, employee = staff("POST", "/staff/employees", body)
    assert status == 201, employee
    return employee


def test_r_staff_3_hiring_emits_employee_hired_with_the_whole_state(staff):
    employee = hire(staff)
    assert employee["status"] == "active" and employee["version"] == 1
    event = next(e for e in outbox_events(staff.table) if e["data"].get("employee_id") == employee["employee_id"])
    assert event["event_name"] == "EmployeeHired" and event["producer"] == "ates.staff"
    assert event["data"]["email"] == employee["email"] and event["data"]["version"] == 1


def test_r_staff_3_a_duplicate_active_email_is_409_and_stores_nothing(staff):
    first = hire(staff)
    before = snapshot(staff.table)
    status, body = staff("POST", "/staff/employees", {"name": "Twin", "email": first["email"].upper(),
                                                       "position": "Copy"})  # fmt: skip
    assert (status, body["error"]["code"]) == (409, "email_taken")
    assert snapshot(staff.table) == before


def test_a_dismissed_popugs_email_can_be_hired_again(staff):
    first = hire(staff)
    assert staff("POST", f"/staff/employees/{first['employee_id']}/dismiss")[0] == 200
    assert hire(staff, email=first["email"])["employee_id"] != first["employee_id"]


def test_hiring_into_an_unknown_department_is_422_and_stores_nothing(staff):
    before = snapshot(staff.table)
    status, body = staff("POST", "/staff/employees", {"name": "K", "email": email(), "position": "P",
                                                       "department_id": str(uuid.uuid4())})  # fmt: skip
    assert (status, body["error"]["code"]) == (422, "unknown_department")
    assert snapshot(staff.table) == before


@pytest.mark.parametrize(
    "body",
    [{"name": "K", "email": "not-an-email", "position": "P"}, {"email": "a@b.example", "position": "P"},
     {"name": "", "email": "a@b.example", "position": "P"}, {"name": "K", "email": "a@b.example", "position": "P",
                                                              "salary": 1}],
)  # fmt: skip
def test_malformed_hires_are_422(staff, body):
    assert staff("POST", "/staff/employees", body)[0] == 422


def test_r_staff_1_only_admins_change_staff_but_everyone_reads(staff):
    employee = hire(staff, name="Rocky Readable")
    assert staff("POST", "/staff/employees", {"name": "K", "email": email(), "position": "P"}, caller=WORKER)[0] == 403
    assert staff("POST", f"/staff/employees/{employee['employee_id']}/dismiss", caller=WORKER)[0] == 403
    assert staff("POST", "/staff/departments", {"name": "Nest"}, caller=WORKER)[0] == 403
    assert staff("GET", f"/staff/employees/{employee['employee_id']}", caller=WORKER)[0] == 200
    status, page = staff("GET", "/staff/employees", caller=WORKER, query={"q": "rocky read"})
    assert status == 200 and [e["employee_id"] for e in page["items"]] == [employee["employee_id"]]


def test_edit_and_transfer_emit_employee_updated_with_a_growing_version(staff):
    _, nest = staff("POST", "/staff/departments", {"name": f"Nest {uuid.uuid4().hex[:4]}"})
    employee = hire(staff)
    status, moved = staff("PATCH", f"/staff/employees/{employee['employee_id']}",
                          {"department_id": nest["department_id"], "position": "Lead sorter"})  # fmt: skip
    assert status == 200 and moved["version"] == 2 and moved["department_id"] == nest["department_id"]
    updates = [
        e
        for e in outbox_events(staff.table)
        if e["event_name"] == "EmployeeUpdated" and e["data"]["employee_id"] == employee["employee_id"]
    ]
    assert [u["data"]["version"] for u in updates] == [2]
    _, listed = staff("GET", "/staff/employees", query={"department_id": nest["department_id"]})
    assert [e["employee_id"] for e in listed["items"]] == [employee["employee_id"]]


def test_r_staff_2_no_cycles_and_only_empty_departments_are_deleted(staff):
    _, top = staff("POST", "/staff/departments", {"name": "Top"})
    _, child = staff("POST", "/staff/departments", {"name": "Child", "parent_id": top["department_id"]})
    status, body = staff("PATCH", f"/staff/departments/{top['department_id']}", {"parent_id": child["department_id"]})
    assert (status, body["error"]["code"]) == (409, "cycle")

    status, body = staff("DELETE", f"/staff/departments/{top['department_id']}")
    assert (status, body["error"]["code"]) == (409, "department_not_empty")  # has a child
    member = hire(staff, department_id=child["department_id"])
    assert staff("DELETE", f"/staff/departments/{child['department_id']}")[0] == 409  # has a member

    staff("POST", f"/staff/employees/{member['employee_id']}/dismiss")
    assert staff("DELETE", f"/staff/departments/{child['department_id']}")[0] == 204
    assert staff("DELETE", f"/staff/departments/{top['department_id']}")[0] == 204
    deleted = [
        e
        for e in outbox_events(staff.table)
        if e["event_name"] == "DepartmentChanged" and e["data"]["department_id"] == top["department_id"]
    ]
    assert deleted[-1]["data"]["deleted"] is True


def test_unknown_parent_or_head_is_422(staff):
    assert staff("POST", "/staff/departments", {"name": "X", "parent_id": str(uuid.uuid4())})[0] == 422
    assert staff("POST", "/staff/departments", {"name": "X", "head_id": str(uuid.uuid4())})[0] == 422


def test_unknown_employee_is_404_and_a_malformed_id_422(staff):
    assert staff("GET", f"/staff/employees/{uuid.uuid4()}")[0] == 404
    assert staff("GET", "/staff/employees/not-an-id")[0] == 422


def test_dismissing_twice_is_409(staff):
    employee = hire(staff)
    staff("POST", f"/staff/employees/{employee['employee_id']}/dismiss")
    status, body = staff("POST", f"/staff/employees/{employee['employee_id']}/dismiss")
    assert (status, body["error"]["code"]) == (409, "already_dismissed")


def test_department_names_are_unique_whatever_the_capitals_and_spaces(staff):
    name = f"Seed Logistics {uuid.uuid4().hex[:4]}"
    status, first = staff("POST", "/staff/departments", {"name": name})
    assert status == 201, first
    for again in (name, f"  {name.upper()} ", name.replace(" ", "   ")):
        status, body = staff("POST", "/staff/departments", {"name": again})
        assert (status, body["error"]["code"]) == (409, "department_name_taken"), body
        assert body["error"]["fields"][0]["field"] == "name" and repr(again.strip()) in body["error"]["message"]
    assert staff("PATCH", f"/staff/departments/{first['department_id']}", {"name": name.lower()})[0] == 200  # itself

    status, other = staff("POST", "/staff/departments", {"name": f"{name} annex"})
    status, body = staff("PATCH", f"/staff/departments/{other['department_id']}", {"name": name.upper()})
    assert (status, body["error"]["code"]) == (409, "department_name_taken")
    # A rename lets go of the old name, and so does a deletion.
    assert staff("PATCH", f"/staff/departments/{first['department_id']}", {"name": f"{name} old"})[0] == 200
    status, reused = staff("POST", "/staff/departments", {"name": name})
    assert status == 201, reused
    assert staff("DELETE", f"/staff/departments/{reused['department_id']}")[0] == 204
    assert staff("POST", "/staff/departments", {"name": name})[0] == 201


def test_two_concurrent_creates_of_one_department_name_make_one_department(staff):
    """The name's claim is written in the department's own transaction, conditional on absence: of two creates at
    once, exactly one commits and the other is a 409, never two departments (no read-then-write window)."""
    name = f"Perch Mobile {uuid.uuid4().hex[:4]}"
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def create(spelled: str) -> None:
        barrier.wait()
        answers.append(staff("POST", "/staff/departments", {"name": spelled})[0])

    threads = [threading.Thread(target=create, args=(spelled,)) for spelled in (name, name.lower())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201, 409]
    _, listed = staff("GET", "/staff/departments", query={"limit": "100"})
    assert [d["name"].lower() for d in listed["items"]].count(name.lower()) == 1
