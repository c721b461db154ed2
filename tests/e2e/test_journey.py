"""Issue 7's journeys over HTTP through a devstack of its own: one correlation id follows a request across
contexts (the API Gateway request id, then each consumer passes its event's on), and devstack shows where
it went: `GET /_devstack/journey/<id>` and `python -m devstack journey <id>` merge the tapped events and the
function log lines that carry it, oldest first."""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests

from tests.conftest import own_devstack
from tests.e2e.popugs import Client, alone_in_tasks_pool, eventually, hire, onboard

TASK_EVENTS = ["TaskCreated", "TaskAssigned", "TaskPriced", "TransactionRecorded"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from own_devstack(tmp_path_factory, "journey")


@pytest.fixture(scope="module")
def admin(stack) -> Client:
    return Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)


def journey(stack, correlation_id: str) -> list[dict]:
    response = requests.get(f"{stack.url}/_devstack/journey/{correlation_id}", timeout=30)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["correlation_id"] == correlation_id and body["truncated"] is False
    return body["items"]


def complete(stack, correlation_id: str, events: list[str], functions: set[str]) -> list[dict] | None:
    """The journey once it holds these events and log lines from these functions (events travel for seconds)."""
    items = journey(stack, correlation_id)
    seen = {i["event_name"] for i in items if i["kind"] == "event"}
    logged = {i["source"] for i in items if i["kind"] == "log"}
    return items if set(events) <= seen and functions <= logged else None


def test_a_task_created_over_http_carries_its_request_id_through_tasks_and_accounting(stack, admin):
    kesha = onboard(stack, admin, "Kesha")

    def create() -> requests.Response | None:
        response = admin.call("POST", "/tasks", {"title": "Follow the seeds"})
        return response if response.status_code == 201 else None

    alone_in_tasks_pool(stack, kesha.employee_id)  # not the bootstrap admin, on its way out of it
    response = eventually(create, "Kesha in the tasks' pool", timeout=45)
    task_id, request_id = response.json()["task_id"], response.headers["x-amzn-RequestId"]
    assert response.json()["assignee_id"] == kesha.employee_id

    def tapped_creation() -> list[dict]:
        found = requests.get(f"{stack.url}/_devstack/events.json", params={"event_name": "TaskCreated"}, timeout=30)
        return [e for e in found.json()["items"] if e["data"]["task_id"] == task_id]

    [created] = eventually(tapped_creation, "TaskCreated in the tap")
    correlation_id = created["correlation_id"]
    assert correlation_id == request_id  # tasks' API uses API Gateway's request id

    functions = {"TasksApiFunction", "AccountingOnTaskEventFunction"}
    items = eventually(lambda: complete(stack, correlation_id, TASK_EVENTS, functions), "the task's journey")
    events = [i for i in items if i["kind"] == "event"]
    assert [e["event_name"] for e in events if e["event_name"] in TASK_EVENTS][:4] in (
        TASK_EVENTS,
        ["TaskAssigned", "TaskCreated", *TASK_EVENTS[2:]],  # created and assigned in one write: same instant
    )
    assert {e["data"]["task_id"] for e in events if e["event_name"] in TASK_EVENTS} == {task_id}
    producers = {e["event_name"]: e["source"] for e in events}
    assert producers["TaskCreated"] == producers["TaskAssigned"] == "ates.tasks"
    assert producers["TaskPriced"] == producers["TransactionRecorded"] == "ates.accounting"
    [fee] = [e for e in events if e["event_name"] == "TransactionRecorded"]
    assert fee["data"]["kind"] == "fee" and fee["data"]["account_id"] == kesha.employee_id
    times = [i["time"] for i in items]
    assert all(times) and times == sorted(times)  # one clock (UTC, ms), oldest first

    logs = [i for i in items if i["kind"] == "log"]
    assert all(correlation_id in str(i.get("record") or i.get("line")) for i in logs)
    created_log = [i for i in logs if i["source"] == "TasksApiFunction" and i["message"] == "task created"]
    assert created_log and created_log[0]["record"]["task_id"] == task_id
    applied = [i["record"].get("event_name") for i in logs if i["source"] == "AccountingOnTaskEventFunction"
               and i["message"] == "event applied"]  # fmt: skip
    assert sorted(applied) == ["TaskAssigned", "TaskCreated"]
    first = {i["source"]: n for n, i in reversed(list(enumerate(items)))}
    assert first["TasksApiFunction"] < first["AccountingOnTaskEventFunction"]

    # The same journey for people, from the CLI (found through the state file, as a developer would).
    done = subprocess.run([sys.executable, "-m", "devstack", "journey", correlation_id, "--state-file",
                           str(stack.state_file)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # Later consumers (analytics' landing) may have added lines since the HTTP read: at least as many.
    assert lines[0].startswith(f"journey of {correlation_id}: ")
    assert "AccountingOnTaskEventFunction" in lines[0] and "TasksApiFunction" in lines[0]
    assert len(lines) >= 1 + len(items)
    for name in TASK_EVENTS:
        assert any(f"EVENT {name} v" in line for line in lines[1:]), (name, done.stdout)
    assert any("TasksApiFunction" in line and "task created" in line for line in lines[1:]), done.stdout


def test_a_hire_carries_its_request_id_through_staff_auth_and_the_pools(stack, admin):
    employee_id, _ = hire(admin, "Rio")

    def hired() -> list[dict]:
        found = requests.get(f"{stack.url}/_devstack/events.json", params={"event_name": "EmployeeHired"}, timeout=30)
        return [e for e in found.json()["items"] if e["data"]["employee_id"] == employee_id]

    [event] = eventually(hired, "EmployeeHired in the tap")
    functions = {
        "StaffApiFunction",
        "AuthOnEmployeeChangedFunction",  # EmployeeHired -> the account, AccountCreated
        "AccountingOnEmployeeChangedFunction",
        "TasksOnAccountChangedFunction",  # AccountCreated -> the tasks' pool
    }
    events = ["EmployeeHired", "AccountCreated"]
    items = eventually(lambda: complete(stack, event["correlation_id"], events, functions), "the hire's journey")
    names = [i["event_name"] for i in items if i["kind"] == "event"]
    assert names[:2] == events
    [account] = [i for i in items if i.get("event_name") == "AccountCreated"]
    assert account["source"] == "ates.auth" and account["data"]["account_id"] == employee_id


def test_an_unknown_correlation_id_has_an_empty_journey(stack):
    assert journey(stack, "no-such-correlation-id") == []
    done = subprocess.run([sys.executable, "-m", "devstack", "journey", "no-such-correlation-id", "--url", stack.url],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1 and "nothing carries this correlation id" in done.stdout
