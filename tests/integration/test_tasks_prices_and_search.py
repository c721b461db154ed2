"""A task's price and history (R-UI-4) and the searched, sorted task list (R-UI-5), on the emulator.

The price comes from accounting's TaskPriced through the tasks consumer `tasks.on_task_priced`: applied once
per event, and whichever comes first, the price or the task (R-EV-3). The history is written with each
change. The list searches and sorts on indexes (a title or Jira id prefix is a key condition)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.accounting import TaskPricedV1
from tests.events import deliver
from tests.integration.test_tasks_handlers import Pick, TasksWorld, tasks_world
from tests.integration.test_tasks_shuffle import JobDriver, start

MANAGER = {"sub": str(uuid.uuid4()), "roles": "manager", "department_id": "", "active": "true"}


@pytest.fixture()
def world(as_function, provisioned, monkeypatch) -> TasksWorld:
    tasks = tasks_world(as_function, provisioned, monkeypatch)
    from tasks import on_task_priced

    tasks.priced = on_task_priced.lambda_handler
    tasks.jobs = JobDriver(tasks)
    return tasks


def priced(task_id: str, fee: int = 1500, reward: int = 3100):
    return REGISTRY.envelope(TaskPricedV1(task_id=task_id, assign_fee=fee, reward=reward))


def price_of(body: dict[str, Any]) -> tuple[Any, Any]:
    return body["assign_fee"], body["reward"]


# --- the price (R-UI-4) ------------------------------------------------------------------------------


def test_r_ui_4_a_task_shows_no_price_until_accounting_prices_it_then_in_lists_and_on_its_page(world):
    me = world.who(world.popug(["worker"]))
    task = world.create(me, "Polish the perch")
    assert price_of(task) == (None, None)
    assert price_of(world.request("GET", f"/tasks/{task['task_id']}", who=me)[1]) == (None, None)

    assert deliver(world.priced, priced(task["task_id"], 1234, 3456)) == {"batchItemFailures": []}

    status, page = world.request("GET", f"/tasks/{task['task_id']}", who=me)
    assert status == 200 and price_of(page) == (1234, 3456)
    (listed,) = world.request("GET", "/tasks", who=me, query={"assignee_id": "me"})[1]["items"]
    assert price_of(listed) == (1234, 3456)
    (listed,) = world.request("GET", "/tasks", who=MANAGER, query={"sort": "title"})[1]["items"]
    assert price_of(listed) == (1234, 3456)


def test_r_ev_3_task_priced_is_applied_once_per_event(world):
    me = world.who(world.popug(["worker"]))
    task = world.create(me)
    event = priced(task["task_id"], 1100, 2200)
    assert deliver(world.priced, event, event) == {"batchItemFailures": []}
    assert deliver(world.priced, event) == {"batchItemFailures": []}
    markers = [i for i in world.items("INBOX#") if i["sk"] == "tasks.on_task_priced"]
    assert len(markers) == 1
    (item,) = [i for i in world.items(f"TASK#{task['task_id']}") if i["sk"] == "TASK"]
    assert (item["assign_fee"], item["reward"]) == (1100, 2200)


def test_r_ev_3_a_batch_of_prices_is_applied_together_in_one_read_and_one_transaction(world):
    me = world.who(world.popug(["worker"]))
    stored = [world.create(me, f"Task {n}")["task_id"] for n in range(4)]
    early = str(uuid.uuid4())  # its price comes before the task
    events = [priced(task_id, 1000 + n, 2000 + n) for n, task_id in enumerate([*stored, early])]
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    dynamodb = client("dynamodb")
    dynamodb.meta.events.register("before-call.dynamodb", record)
    try:
        assert deliver(world.priced, *events) == {"batchItemFailures": []}
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb", record)
    assert calls == ["BatchGetItem", "TransactWriteItems"]
    items = world.request("GET", "/tasks", who=me, query={"limit": "50"})[1]["items"]
    listed = {t["task_id"]: price_of(t) for t in items}
    assert [listed[t] for t in stored] == [(1000 + n, 2000 + n) for n in range(4)]
    (waiting,) = [i for i in world.items(f"TASK#{early}") if i["sk"] == "PRICE"]
    assert (waiting["assign_fee"], waiting["reward"]) == (1004, 2004)
    assert deliver(world.priced, *events) == {"batchItemFailures": []}  # again: applied before, nothing changes
    assert len([i for i in world.items("INBOX#") if i["sk"] == "tasks.on_task_priced"]) == 5


def test_r_ev_3_a_price_that_comes_before_its_task_is_shown_once_the_task_is_stored(world):
    worker = world.popug(["worker"])
    (task_id,) = [str(uuid.uuid4())]
    # The price arrives first (a restore, a bulk load, a redrive): nothing to price yet, and no failure.
    assert deliver(world.priced, priced(task_id, 1900, 3900)) == {"batchItemFailures": []}
    assert world.request("GET", f"/tasks/{task_id}", who=MANAGER)[0] == 404
    # Then the task is stored (as a restore or the year seeder writes it: straight into the table).
    seeded = _store_task(world, task_id, worker)

    status, page = world.request("GET", f"/tasks/{seeded}", who=MANAGER)
    assert status == 200 and price_of(page) == (1900, 3900)
    (listed,) = world.request("GET", "/tasks", who=MANAGER)[1]["items"]
    assert price_of(listed) == (1900, 3900)
    # and when it is done, the waiting price goes with the task (R-TASK-6)
    assert world.request("POST", f"/tasks/{task_id}/complete", who=world.who(worker))[0] == 200
    expiries = {i["sk"]: i.get("expires_at") for i in world.items(f"TASK#{task_id}")}
    assert expiries["PRICE"] == expiries["TASK"] is not None


def _store_task(world: TasksWorld, task_id: str, assignee: str) -> str:
    from shared import clock, dynamo
    from shared.aws import client
    from tasks import store
    from tasks.domain import Task

    now = clock.iso(clock.now())
    task = Task(task_id=task_id, title="Restored task", jira_id=None, description="", due_date=None, status="open",
                assignee_id=assignee, created_by=assignee, created_at=now, assigned_at=now)  # fmt: skip
    client("dynamodb").put_item(TableName=world.table, Item=dynamo.to_item(store.task_item(task)))
    return task_id


# --- the history (R-UI-4) ----------------------------------------------------------------------------


def test_r_ui_4_a_task_page_shows_its_history_created_shuffled_completed(world, monkeypatch):
    first, second = world.popug(["worker"]), world.popug(["worker"])
    creator = str(uuid.uuid4())
    monkeypatch.setattr(world.api, "rng", Pick(first))
    task = world.create(world.who(creator), "Count the seeds")
    monkeypatch.setattr(world.job, "rng", Pick(second))
    job = start(world)
    world.jobs.drain(job["job_id"])
    assert world.request("POST", f"/tasks/{task['task_id']}/complete", who=world.who(second))[0] == 200

    status, page = world.request("GET", f"/tasks/{task['task_id']}", who=MANAGER)
    assert status == 200
    steps = [(e["kind"], e["assignee_id"], e["by"]) for e in page["history"]]
    assert steps == [
        ("created", first, creator),
        ("shuffled", second, job["job_id"]),
        ("completed", second, second),
    ]
    ats = [e["at"] for e in page["history"]]
    assert ats == sorted(ats) and ats[0] == page["created_at"] and ats[-1] == page["completed_at"]


# --- search and sort (R-UI-5) ------------------------------------------------------------------------


@pytest.fixture()
def titled(world):
    me = world.who(world.popug(["worker"]))
    made = {}
    for title, jira in (("banana split", None), ("Apple pie", "UBERPOP-12"), ("cherry tart", "UBERPOP-7"),
                        ("Banana bread", "PERCH-3")):  # fmt: skip
        made[title] = world.create(me, title, jira_id=jira)["task_id"]
    return me, made


def titles(world: TasksWorld, **query) -> list[str]:
    status, page = world.request("GET", "/tasks", who=MANAGER, query={k: str(v) for k, v in query.items()})
    assert status == 200, page
    return [t["title"] for t in page["items"]]


def test_r_ui_5_all_tasks_sort_by_title_either_way_and_by_creation(world, titled):
    assert titles(world, sort="title") == ["Apple pie", "Banana bread", "banana split", "cherry tart"]
    assert titles(world, sort="title", order="desc") == ["cherry tart", "banana split", "Banana bread", "Apple pie"]
    assert titles(world) == ["Banana bread", "cherry tart", "Apple pie", "banana split"]  # newest first
    assert titles(world, sort="created", order="asc") == ["banana split", "Apple pie", "cherry tart", "Banana bread"]


def test_r_ui_5_all_tasks_search_a_title_start_in_any_case_or_a_jira_id(world, titled):
    assert titles(world, q="BANANA") == ["Banana bread", "banana split"]
    assert titles(world, q="banana", order="desc") == ["banana split", "Banana bread"]
    assert titles(world, q="uberpop-1") == ["Apple pie"]
    assert titles(world, q="UBERPOP-") == ["Apple pie", "cherry tart"]  # by Jira id: UBERPOP-12, UBERPOP-7
    assert titles(world, q="pie") == []  # a search is the start of a title, not any word in it
    assert titles(world, q="banana", status="done") == []
    assert titles(world, q="banana", assignee_id=str(uuid.uuid4())) == []


def test_r_ui_5_search_pages_carry_on_within_the_search(world, titled):
    status, first = world.request("GET", "/tasks", who=MANAGER, query={"q": "banana", "limit": "1"})
    assert status == 200 and [t["title"] for t in first["items"]] == ["Banana bread"] and first["next_cursor"]
    status, second = world.request(
        "GET", "/tasks", who=MANAGER, query={"q": "banana", "limit": "1", "cursor": first["next_cursor"]}
    )
    assert [t["title"] for t in second["items"]] == ["banana split"]
    # a cursor of one search does not carry another list
    status, body = world.request("GET", "/tasks", who=MANAGER, query={"q": "cherry", "cursor": first["next_cursor"]})
    assert (status, body["error"]["code"]) == (422, "invalid_cursor")


@pytest.mark.parametrize(
    "query",
    [{"sort": "assignee"}, {"sort": "title; drop"}, {"order": "sideways"}, {"q": "x", "sort": "created"},
     {"q": "x" * 101}],
)  # fmt: skip
def test_r_ui_5_a_bad_sort_or_search_is_a_422_that_says_what_to_send(world, query):
    status, body = world.request("GET", "/tasks", who=MANAGER, query=query)
    assert status == 422, body
    assert body["error"]["code"] in ("invalid_sort", "invalid_search")
    assert "sort" in body["error"]["message"].lower() or "search" in body["error"]["message"].lower()
