"""Issue 4's story over HTTP through a devstack of its own (so the assignee pool is known): tasks land
on workers only, a manager shuffles, the assignee completes, a former assignee cannot (R-TASK-1..4)."""

from __future__ import annotations

import pytest

from tests.conftest import own_devstack
from tests.e2e.popugs import Client, eventually, onboard


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from own_devstack(tmp_path_factory, "tasks")


def test_tasks_go_to_workers_get_shuffled_and_only_the_assignee_completes(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    nobody = admin.call("POST", "/tasks", {"title": "Before any worker exists"})
    assert nobody.status_code == 409 and nobody.json()["error"]["code"] == "no_assignee"

    kesha = onboard(stack, admin, "Kesha")
    first = eventually(lambda: admin.call("POST", "/tasks", {"title": "Sort the seeds", "jira_id": "UBERPOP-1"}),
                       "the pool to learn of the first worker", timeout=30)  # fmt: skip
    first = eventually(lambda: first if first.status_code == 201 else None, "the first task")
    task = first.json()
    assert task["assignee_id"] == kesha.employee_id  # the only worker; never the admin
    assert (task["status"], task["jira_id"]) == ("open", "UBERPOP-1")
    assert [t["task_id"] for t in kesha.call("GET", "/tasks?assignee_id=me").json()["items"]] == [task["task_id"]]

    # Kesha is promoted (no longer an assignee); Rio is the only worker left.
    assert admin.call("PUT", f"/auth/accounts/{kesha.employee_id}/roles", {"roles": ["manager"]}).status_code == 200
    rio = onboard(stack, admin, "Rio")

    def only_rio_is_eligible() -> bool:
        landed = []
        for i in range(6):
            response = rio.call("POST", "/tasks", {"title": f"probe {i}"})
            if response.status_code == 409:  # between Kesha leaving the pool and Rio joining it
                return False
            assert response.status_code == 201, response.text
            landed.append(response.json()["assignee_id"])
        assert set(landed) <= {kesha.employee_id, rio.employee_id}, "a task landed on a non-worker"
        return set(landed) == {rio.employee_id}

    eventually(only_rio_is_eligible, "the pool to drop the manager and add the new worker", timeout=45)

    assert rio.call("POST", "/tasks/shuffle").status_code == 403  # workers do not shuffle
    started = kesha.call("POST", "/tasks/shuffle")  # a manager does
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]

    def finished() -> dict | None:
        status = kesha.call("GET", f"/tasks/shuffles/{job_id}").json()
        return status if status["status"] in ("done", "failed") else None

    result = eventually(finished, "the shuffle to finish", timeout=60)
    assert result["status"] == "done" and result["done"] == result["total"] >= 7

    moved = rio.call("GET", f"/tasks/{task['task_id']}").json()
    assert moved["assignee_id"] == rio.employee_id
    refused = kesha.call("POST", f"/tasks/{task['task_id']}/complete")  # the former assignee
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_assignee"
    done = rio.call("POST", f"/tasks/{task['task_id']}/complete")
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = rio.call("POST", f"/tasks/{task['task_id']}/complete")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_done"

    listed = admin.call("GET", "/tasks?status=done").json()["items"]
    assert [t["task_id"] for t in listed] == [task["task_id"]]


def test_bad_task_input_is_a_clear_4xx(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    for body in ({"title": "[UBERPOP-1] brackets"}, {"title": ""}, {"title": "t" * 201},
                 {"title": "ok", "jira_id": "uberpop-1"}, {"title": "ok", "due_date": "tomorrow"},
                 {"title": "ok", "description": "d" * 4001}):  # fmt: skip
        response = admin.call("POST", "/tasks", body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["message"]
    assert admin.call("GET", "/tasks/00000000-0000-4000-8000-000000000000").status_code == 404
