"""Issue 7's incident over HTTP through a devstack of its own (R-EV-4): accounting's task consumer is
misconfigured (its table name points nowhere, set at run time through devstack, with no special case in
function code), so a new task's events fail there; after 5 attempts with growing pauses (2, 4, 8, 16 s)
they wait in the consumer's dead-letter queue with the reason, visible to admins only. Once the
configuration is fixed, a redrive applies them, and the worker's fee is booked exactly once however
often the dead letters are redriven.

R-SEC-4 the same way for a stream: tasks' outbox relay points at a bus that does not exist, so a new task's
events cannot be published; after its 20 retries the batch is given up on, shown among the dead letters, and
after the fix a redrive replays it from the table's stream: the events are published, and booked, once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.conftest import own_devstack
from tests.e2e.popugs import Client, alone_in_tasks_pool, eventually, onboard

FUNCTION = "AccountingOnTaskEventFunction"
CONSUMER = "AccountingTaskEvents"
MISSING_TABLE = "ates-local-NoSuchAccountingTable"
DEAD_LETTER_WAIT = 90  # 2+4+8+16 s of backoff, the poller's and the gateway's latencies, a loaded machine


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # Stream retries pause at most 0.2 s here (5 s by default), so 20 of them take seconds, not minutes.
    yield from own_devstack(tmp_path_factory, "dead-letters", "--stream-retry-backoff", "0.2")


def set_environment(stack, variables: dict, function: str = FUNCTION) -> dict:
    response = requests.post(f"{stack.url}/_devstack/functions/{function}/environment", json=variables, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def tapped(stack, **query: str) -> list[dict]:
    return requests.get(f"{stack.url}/_devstack/events.json", params=query, timeout=30).json()["items"]


def fees_for(worker: Client, task_id: str) -> list[dict]:
    response = worker.call("GET", "/accounting/me/transactions?limit=100")
    assert response.status_code == 200, response.text
    return [t for t in response.json()["items"] if t["kind"] == "fee" and t["task_id"] == task_id]


def consumer_entry(admin: Client, consumer: str = CONSUMER) -> dict:
    response = admin.call("GET", "/ops/dead-letters")
    assert response.status_code == 200, response.text
    [entry] = [item for item in response.json()["items"] if item["consumer"] == consumer]
    return entry


def log_tail(stack, lines: int = 40) -> str:
    path = Path(stack.state["log_dir"]) / f"{FUNCTION}.log"
    return "\n".join(path.read_text().splitlines()[-lines:]) if path.exists() else "(no log)"


def test_a_poison_event_is_dead_lettered_shown_and_after_the_fix_applied_once(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    kesha = onboard(stack, admin, "Kesha")
    assert kesha.call("GET", "/ops/dead-letters").status_code == 403  # admins only
    assert kesha.call("POST", f"/ops/dead-letters/{CONSUMER}/redrive").status_code == 403
    before = consumer_entry(admin)
    assert before["waiting"] == 0 and before["messages"] == []

    # The incident: accounting's task consumer points at a table that does not exist.
    broken = set_environment(stack, {"ACCOUNTING_TABLE_NAME": MISSING_TABLE})
    assert broken["overrides"] == {"ACCOUNTING_TABLE_NAME": MISSING_TABLE}
    assert requests.get(f"{stack.url}/_devstack/functions/{FUNCTION}/environment", timeout=30).json()[
        "environment"
    ]["ACCOUNTING_TABLE_NAME"] == MISSING_TABLE  # fmt: skip

    def create() -> dict | None:  # Kesha joins tasks' pool through events: retry until she is in it
        response = admin.call("POST", "/tasks", {"title": "Sort the poisoned seeds"})
        return response.json() if response.status_code == 201 else None

    alone_in_tasks_pool(stack, kesha.employee_id)  # not the bootstrap admin, on its way out of it
    task = eventually(create, "Kesha in the tasks' pool", timeout=45)
    assert task["assignee_id"] == kesha.employee_id
    task_id = task["task_id"]
    [created] = eventually(lambda: tapped(stack, event_name="TaskCreated"), "TaskCreated in the tap")
    correlation_id = created["correlation_id"]
    assert created["data"]["task_id"] == task_id

    def dead_lettered() -> dict | None:
        entry = consumer_entry(admin)
        done = [m for m in entry["messages"] if m["attempts"] == 5]
        return entry if entry["waiting"] == 2 and len(done) == 2 else None

    started = time.monotonic()  # TaskCreated is in the tap: its first attempt in accounting is about now
    try:
        entry = eventually(dead_lettered, "both task events in the dead-letter queue", timeout=DEAD_LETTER_WAIT)
    except pytest.fail.Exception:
        raise AssertionError(f"{consumer_entry(admin)}\n--- {FUNCTION}.log:\n{log_tail(stack)}") from None
    waited = time.monotonic() - started
    assert waited >= 2 + 4 + 8 + 16 - 3, f"dead-lettered after {waited:.1f} s: the backoff was skipped"
    messages = sorted(entry["messages"], key=lambda m: m["event_name"])
    assert [m["event_name"] for m in messages] == ["TaskAssigned", "TaskCreated"]
    published = {e["event_id"]: e for e in tapped(stack, correlation_id=correlation_id)}
    for message in messages:
        event = published[message["event_id"]]  # the very events tasks published, as they were published
        assert (message["event_name"], message["event_version"]) == (event["event_name"], event["event_version"])
        assert (message["data"], message["event_time"]) == (event["data"], event["event_time"])
        assert message["producer"] == "ates.tasks" and message["correlation_id"] == correlation_id
        assert message["data"]["task_id"] == task_id and message["event_id"] and message["message_id"]
        assert message["attempts"] == 5 and message["failed_at"] and message["event_time"]
        # The reason as DynamoDB gives it: BatchGetItem names no table (neither does AWS's), only what is missing.
        assert message["error"].startswith("ResourceNotFoundException: "), message["error"]
        assert "BatchGetItem" in message["error"] and "Requested resource not found" in message["error"]
        assert message["body"] is None  # an envelope was found, so it is shown instead of the raw body
    assert messages[0]["data"]["assignee_id"] == kesha.employee_id
    assert fees_for(kesha, task_id) == []  # nothing was booked
    assert tapped(stack, event_name="TransactionRecorded", correlation_id=correlation_id) == []

    # The fix: the override is dropped, the template's table name is back; the dead letters still wait.
    fixed = set_environment(stack, {"ACCOUNTING_TABLE_NAME": None})
    assert fixed["overrides"] == {} and fixed["environment"]["ACCOUNTING_TABLE_NAME"] != MISSING_TABLE
    assert consumer_entry(admin)["waiting"] == 2

    redriven = admin.call("POST", f"/ops/dead-letters/{CONSUMER}/redrive")
    assert redriven.status_code == 200, redriven.text
    assert redriven.json() == {"consumer": CONSUMER, "redriven": 2, "waiting": 0}
    [fee] = eventually(lambda: fees_for(kesha, task_id), "the fee in Kesha's ledger after the redrive", timeout=30)
    assert 1000 <= -fee["amount"] <= 2000
    [recorded] = eventually(
        lambda: tapped(stack, event_name="TransactionRecorded", correlation_id=correlation_id),
        "TransactionRecorded with the task's correlation id",
    )
    assert recorded["data"]["task_id"] == task_id

    # Redriving again moves nothing and books nothing more.
    again = admin.call("POST", f"/ops/dead-letters/{CONSUMER}/redrive")
    assert again.status_code == 200 and again.json() == {"consumer": CONSUMER, "redriven": 0, "waiting": 0}
    assert admin.call("POST", "/ops/dead-letters/NoSuchConsumer/redrive").status_code == 404
    time.sleep(3)  # anything redriven twice would have been applied by now
    assert len(fees_for(kesha, task_id)) == 1
    assert len(tapped(stack, event_name="TransactionRecorded", correlation_id=correlation_id)) == 1
    assert len(tapped(stack, event_name="TaskPriced", correlation_id=correlation_id)) == 1
    assert consumer_entry(admin) == {"consumer": CONSUMER, "waiting": 0, "messages": []}


RELAY = "TasksOutboxRelayFunction"
STREAM_CONSUMER = "TasksOutboxRelay"


def test_r_sec_4_a_stream_batch_given_up_on_is_shown_and_after_the_fix_relayed_once(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    gosha = onboard(stack, admin, "Gosha")
    assert consumer_entry(admin, STREAM_CONSUMER) == {"consumer": STREAM_CONSUMER, "waiting": 0, "messages": []}
    eventually(lambda: admin.call("POST", "/tasks", {"title": "Warm up"}).status_code == 201, "a worker in the pool")

    set_environment(stack, {"EVENT_BUS_NAME": "ates-local-NoSuchBus"}, function=RELAY)
    response = admin.call("POST", "/tasks", {"title": "Count the stuck seeds"})
    assert response.status_code == 201, response.text  # the task and its events are committed; only publishing fails
    task_id = response.json()["task_id"]

    def given_up() -> dict | None:
        entry = consumer_entry(admin, STREAM_CONSUMER)
        return entry if entry["waiting"] >= 1 else None

    entry = eventually(given_up, "the relay's batch in its failure queue", timeout=120)
    [failure] = entry["messages"]
    assert failure["event_name"] == "Stream batch" and "TasksTable" in failure["producer"]
    assert failure["attempts"] == 21 and failure["error"].startswith("RetryAttemptsExhausted")
    assert failure["data"]["records"] >= 1 and failure["data"]["first_sequence_number"]
    assert [e for e in tapped(stack, event_name="TaskCreated") if e["data"]["task_id"] == task_id] == []
    later = admin.call("POST", "/tasks", {"title": "Behind the poison"})  # the shard moved on: nothing is blocked
    assert later.status_code == 201
    assert gosha.call("POST", f"/ops/dead-letters/{STREAM_CONSUMER}/redrive").status_code == 403

    set_environment(stack, {"EVENT_BUS_NAME": None}, function=RELAY)
    redriven = admin.call("POST", f"/ops/dead-letters/{STREAM_CONSUMER}/redrive")
    assert redriven.status_code == 200 and redriven.json()["redriven"] >= 1, redriven.text

    def created() -> list[dict]:
        return [e for e in tapped(stack, event_name="TaskCreated") if e["data"]["task_id"] == task_id]

    eventually(created, "TaskCreated published by the replay", timeout=60)

    def booked() -> list[dict]:
        return [e for e in tapped(stack, event_name="TransactionRecorded") if e["data"].get("task_id") == task_id]

    eventually(booked, "the assignment's fee booked after the replay")
    eventually(lambda: consumer_entry(admin, STREAM_CONSUMER)["waiting"] == 0, "the failure queue emptied")
    time.sleep(3)  # a second publication would have reached the tap, and accounting, by now
    assert len(created()) == 1 and len(booked()) == 1
