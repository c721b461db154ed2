"""Data-level access over HTTP, after the role gate (R-TASK-4, R-TASK-5, R-ACC-6, R-TASK-2): a worker sees
their own tasks and ledger and nobody else's (403), whatever the spelling of the id; completing someone
else's task is 409 `not_assignee` and changes nothing; managers and admins see all tasks, admins and
accountants all ledgers; and nobody picks the assignee or the status of a new task."""

from __future__ import annotations

import pytest

from tests.e2e.popugs import eventually

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def others_task(admin, cast, throwaway):
    """A task assigned to nobody of the cast (assignment is random: create until one is; a second worker of
    its own, so there is someone else whatever ran before). Not the cast's worker, and not one of the others
    either: each was onboarded as a worker and given its one role after, so it can still be in the tasks'
    pool until that change reaches the tasks context (a CI run's task went to the accountant)."""
    cast_ids = {popug.employee_id for popug in cast.values() if popug is not None}
    throwaway("SecOtherWorker")

    def create():
        response = admin.call("POST", "/tasks", {"title": "Count the seeds"})
        taken = response.status_code == 201 and response.json()["assignee_id"] not in cast_ids
        return response.json() if taken else None

    return eventually(create, "a task assigned to another popug", timeout=60)


def code(response) -> tuple[int, str | None]:
    body = response.json()
    return response.status_code, body.get("error", {}).get("code") if isinstance(body, dict) else None


def test_r_task_5_a_worker_lists_only_their_own_tasks(cast, others_task):
    worker = cast["worker"]
    response = worker.client.call("GET", "/tasks?limit=100")
    assert response.status_code == 200, response.text
    assert all(task["assignee_id"] == worker.employee_id for task in response.json()["items"])
    assert worker.client.call("GET", "/tasks?assignee_id=me").status_code == 200


@pytest.mark.parametrize("spelling", [str, str.upper], ids=["as-is", "upper-case"])
def test_r_task_5_a_worker_cannot_list_or_read_another_popugs_tasks(cast, others_task, spelling):
    worker = cast["worker"].client
    other = spelling(others_task["assignee_id"])
    assert code(worker.call("GET", f"/tasks?assignee_id={other}")) == (403, "forbidden")
    read = worker.call("GET", f"/tasks/{spelling(others_task['task_id'])}")
    # Task ids are matched as stored (lower case): another spelling finds nothing, which reveals nothing either.
    assert code(read) in ((403, "forbidden"), (404, "not_found")), read.text
    assert "title" not in read.json()


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_r_task_5_managers_and_admins_see_any_task(cast, others_task, role):
    viewer = cast[role].client
    assert viewer.call("GET", f"/tasks/{others_task['task_id']}").status_code == 200
    assert viewer.call("GET", f"/tasks?assignee_id={others_task['assignee_id']}").status_code == 200


@pytest.mark.parametrize("role", ["worker", "manager", "admin", "accountant"])
def test_r_task_4_only_the_assignee_completes_a_task(admin, cast, others_task, role):
    response = cast[role].client.call("POST", f"/tasks/{others_task['task_id']}/complete")
    assert code(response) == (409, "not_assignee"), response.text
    assert admin.call("GET", f"/tasks/{others_task['task_id']}").json()["status"] == "open"


@pytest.mark.parametrize("spelling", [str, str.upper], ids=["as-is", "upper-case"])
def test_r_acc_6_a_worker_reads_their_own_ledger_and_nobody_elses(cast, others_task, spelling):
    worker = cast["worker"]
    own = worker.client.call("GET", f"/accounting/accounts/{spelling(worker.employee_id)}/transactions")
    assert own.status_code == 200, own.text
    for other in (others_task["assignee_id"], cast["accountant"].employee_id):
        response = worker.client.call("GET", f"/accounting/accounts/{spelling(other)}/transactions")
        assert code(response) == (403, "forbidden"), response.text


@pytest.mark.parametrize(("role", "allowed"), [("manager", False), ("accountant", True), ("admin", True)])
def test_r_acc_6_admins_and_accountants_read_any_ledger(cast, others_task, role, allowed):
    response = cast[role].client.call("GET", f"/accounting/accounts/{others_task['assignee_id']}/transactions")
    assert (response.status_code == 200) if allowed else code(response) == (403, "forbidden"), response.text


@pytest.mark.parametrize(
    "extra",
    [{"assignee_id": "me"}, {"status": "done"}, {"task_id": "00000000-0000-0000-0000-000000000000"},
     {"created_by": "00000000-0000-0000-0000-000000000000"}],
    ids=["assignee", "status", "task_id", "created_by"],
)  # fmt: skip
def test_r_task_2_nobody_chooses_what_the_system_decides_for_a_new_task(cast, extra):
    worker = cast["worker"]
    body = {"title": "Pick me", **extra}
    if "assignee_id" in body:
        body["assignee_id"] = worker.employee_id
    response = worker.client.call("POST", "/tasks", body)
    assert code(response) == (422, "validation_error"), response.text


def test_r_auth_6_nobody_grants_themselves_a_role_through_their_own_records(cast):
    worker = cast["worker"].client
    patch = worker.call("PATCH", f"/staff/employees/{cast['worker'].employee_id}", {"roles": ["admin"]})
    assert code(patch) == (403, "forbidden"), patch.text
    roles = worker.call("PUT", f"/auth/accounts/{cast['worker'].employee_id}/roles", {"roles": ["admin"]})
    assert code(roles) == (403, "forbidden"), roles.text
    assert worker.call("GET", "/auth/me").json()["roles"] == ["worker"]
