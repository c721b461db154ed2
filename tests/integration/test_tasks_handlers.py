"""Tasks handlers on the emulator (R-TASK-1, 2, 4, 5, 6; R-EV-3): the assignee pool learned from events,
creation on a random assignee, completion rules, lists and their role rules, TTL hiding.

Each test gets a fresh table shaped exactly like the template's TasksTable, so pools and lists start
empty whatever ran before; the handlers run in-process with their template environment."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.auth import AccountCreatedV1, AccountRolesChangedV1
from shared.contracts.staff import EmployeeDismissedV1
from shared.problems import label
from tests.events import deliver
from tests.integration.conftest import LambdaContext, api_event, call, template_table


class Pick(random.Random):
    """An rng that always picks `who` (when it is in the pool): lets a test decide the assignee."""

    def __init__(self, who: str) -> None:
        super().__init__(0)
        self.who = who

    def choice(self, seq):
        assert self.who in seq, f"{self.who} is not in the pool {seq}"
        return self.who


class TasksWorld:
    """The tasks context on a fresh table: its API, its pool consumer, its shuffle job and relay."""

    def __init__(self, table: str, provisioned: Any) -> None:
        from tasks import api, on_account_changed, shuffle_job

        self.table = table
        self.provisioned = provisioned
        self.api = api
        self.consumer = on_account_changed.lambda_handler
        self.job = shuffle_job

    # --- people --------------------------------------------------------------------------------------
    def account(self, account_id: str | None = None, roles=("worker",), version=1, active=True, changed=False):
        model = AccountRolesChangedV1 if changed else AccountCreatedV1
        account_id = account_id or str(uuid.uuid4())
        return account_id, REGISTRY.envelope(model(account_id=account_id, version=version, roles=list(roles),
                                                   active=active))  # fmt: skip

    def consume(self, *envelopes) -> None:
        assert deliver(self.consumer, *envelopes) == {"batchItemFailures": []}

    def popug(self, roles=("worker",), version=1, active=True) -> str:
        account_id, event = self.account(roles=roles, version=version, active=active)
        self.consume(event)
        return account_id

    def dismiss(self, employee_id: str, version: int = 2) -> None:
        self.consume(REGISTRY.envelope(EmployeeDismissedV1(employee_id=employee_id, version=version,
                                                           dismissed_at=datetime.now(UTC))))  # fmt: skip

    def pool(self) -> set[str]:
        from tasks import store

        return store.pool_ids()

    # --- HTTP ----------------------------------------------------------------------------------------
    @staticmethod
    def who(employee_id: str, roles: str = "worker") -> dict[str, str]:
        return {"sub": employee_id, "roles": roles, "department_id": "", "active": "true"}

    def request(self, method: str, path: str, body=None, who=None, query=None, raw_body=None):
        who = who or self.who(str(uuid.uuid4()))
        event = api_event(method, f"/api{path}", body=body, caller=who, query=query, raw_body=raw_body)
        return call(self.api.lambda_handler, event)

    def create(self, who: dict[str, str], title: str = "Sort the seeds", **fields) -> dict[str, Any]:
        status, body = self.request("POST", "/tasks", {"title": title, **fields}, who=who)
        assert status == 201, body
        return body

    # --- the table -----------------------------------------------------------------------------------
    def items(self, prefix: str = "", attributes: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Items whose pk starts with `prefix` (only those attributes, if given): the emulator's cost is
        in serialising what it returns, so tests ask for no more than they look at."""
        from shared import dynamo

        params: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        if prefix:
            params["FilterExpression"] = "begins_with(pk, :p)"
            params["ExpressionAttributeValues"] = {":p": {"S": prefix}}
        if attributes:
            names = {f"#a{i}": name for i, name in enumerate(("pk", *attributes))}
            params["ProjectionExpression"] = ", ".join(names)
            params["ExpressionAttributeNames"] = names
        pages = client("dynamodb").get_paginator("scan").paginate(**params)
        return [dynamo.from_item(i) for page in pages for i in page["Items"]]

    def outbox(self) -> list[list[dict[str, Any]]]:
        """The events of each outbox item."""
        return [json.loads(i["events"]) for i in self.items("OUTBOX#", ("events",))]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [e for item in self.outbox() for e in item if name is None or e["event_name"] == name]

    def seed_open_tasks(self, count: int, assignees: list[str], created_by: str | None = None) -> list[str]:
        """Open tasks written straight into the table (BatchWriteItem), for tests about many tasks."""
        from shared import clock, dynamo
        from tasks import store
        from tasks.domain import Task

        created_by = created_by or str(uuid.uuid4())
        ids = []
        requests = []
        for i in range(count):
            now = clock.iso(clock.now())
            task = Task(
                task_id=str(uuid.uuid4()), title=f"Seeded task {i}", jira_id=None, description="", due_date=None,
                status="open", assignee_id=assignees[i % len(assignees)], created_by=created_by, created_at=now,
                assigned_at=now,
            )  # fmt: skip
            ids.append(task.task_id)
            requests.append({"PutRequest": {"Item": dynamo.to_item(store.task_item(task))}})
        for start in range(0, len(requests), 25):
            pending = {self.table: requests[start : start + 25]}
            while pending:
                pending = client("dynamodb").batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        return ids


def tasks_world(as_function, provisioned, monkeypatch) -> TasksWorld:
    """The tasks functions' template environment, pointed at a fresh table."""
    as_function("TasksApiFunction")  # the tasks functions share every variable but the service name
    table = template_table(provisioned, "TasksTable")
    monkeypatch.setenv("TASKS_TABLE_NAME", table)
    from tasks import settings

    settings.get.cache_clear()
    return TasksWorld(table, provisioned)


@pytest.fixture()
def tasks(as_function, provisioned, monkeypatch) -> TasksWorld:
    return tasks_world(as_function, provisioned, monkeypatch)


# --- the pool (R-TASK-2, R-EV-3) -------------------------------------------------------------------


def test_r_task_2_the_pool_holds_active_workers_who_are_neither_managers_nor_admins(tasks):
    worker = tasks.popug(["worker"])
    worker_accountant = tasks.popug(["worker", "accountant"])
    for roles in (["worker", "manager"], ["worker", "admin"], ["accountant"], ["manager"], []):
        tasks.popug(roles)
    tasks.popug(["worker"], active=False)
    assert tasks.pool() == {worker, worker_accountant}


def test_r_ev_3_roles_changed_before_created_and_old_after_new_leave_the_newest_state(tasks):
    popug, changed = tasks.account(roles=["worker"], version=2, changed=True)
    _, created = tasks.account(popug, roles=["worker", "manager"], version=1)
    tasks.consume(changed)
    tasks.consume(created)  # older: ignored
    assert tasks.pool() == {popug}

    _, promoted = tasks.account(popug, roles=["worker", "manager"], version=4, changed=True)
    _, late = tasks.account(popug, roles=["worker"], version=3, changed=True)
    tasks.consume(promoted, late)
    assert tasks.pool() == set()


def test_r_ev_3_a_dismissal_before_the_account_keeps_the_popug_out_for_good(tasks):
    popug = str(uuid.uuid4())
    tasks.dismiss(popug)
    _, created = tasks.account(popug, roles=["worker"], version=1)
    _, changed = tasks.account(popug, roles=["worker"], version=2, changed=True)
    tasks.consume(created, changed)
    assert tasks.pool() == set()


def test_r_ev_3_a_dismissal_takes_a_worker_out_and_duplicates_change_nothing(tasks):
    popug, created = tasks.account(roles=["worker"])
    other = tasks.popug(["worker"])
    tasks.consume(created, created)
    tasks.consume(created)
    assert tasks.pool() == {popug, other}
    tasks.dismiss(popug)
    tasks.dismiss(popug)
    assert tasks.pool() == {other}
    accounts = tasks.items(f"ACCOUNT#{popug}")
    assert len(accounts) == 1 and accounts[0]["dismissed"] is True and accounts[0]["eligible"] is False


# --- creation (R-TASK-1, R-TASK-2) -----------------------------------------------------------------


def test_r_task_2_a_new_task_lands_on_a_worker_never_a_manager_or_admin(tasks):
    worker = tasks.popug(["worker"])
    others = [tasks.popug(roles) for roles in (["worker", "manager"], ["worker", "admin"], ["accountant"])]
    author = tasks.who(others[0], "worker,manager")
    assignees = {tasks.create(author, f"Task {i}")["assignee_id"] for i in range(15)}
    assert assignees == {worker}


def test_r_task_2_assignment_is_random_across_the_pool(tasks, monkeypatch):
    pool = [tasks.popug(["worker"]) for _ in range(3)]
    monkeypatch.setattr(tasks.api, "rng", random.Random(7))
    seen = {tasks.create(tasks.who(pool[0]), f"Task {i}")["assignee_id"] for i in range(30)}
    assert seen == set(pool)


def test_r_task_2_a_warm_process_reads_the_pools_revision_while_the_pool_stands(tasks, monkeypatch):
    """The pool is one item of every assignee's id (37 KB for 1,000 popugs), read at each creation: a warm
    process keeps it, reading only its revision until a popug joins or leaves it; a pool item written before
    revisions is read whole each time."""
    from tasks import store

    dynamodb = client("dynamodb")
    get_item, reads = dynamodb.get_item, []

    def counted(**params):
        if params["Key"]["pk"] == {"S": store.POOL_KEY[0]}:
            reads.append("revision" if "ProjectionExpression" in params else "whole")
        return get_item(**params)

    monkeypatch.setattr(dynamodb, "get_item", counted)
    first = tasks.popug(["worker"])
    author = tasks.who(str(uuid.uuid4()), "admin")
    assert {tasks.create(author, f"Task {i}")["assignee_id"] for i in range(3)} == {first}
    assert reads == ["whole", "revision", "revision"]

    second = tasks.popug(["worker"])
    tasks.dismiss(first)
    reads.clear()
    assert tasks.create(author)["assignee_id"] == second
    assert reads == ["revision", "whole"]  # changed: read again

    dynamodb.update_item(
        TableName=tasks.table, Key={"pk": {"S": "POOL"}, "sk": {"S": "POOL"}}, UpdateExpression="REMOVE rev"
    )  # fmt: skip (as written before revisions)
    reads.clear()
    assert [tasks.create(author)["assignee_id"] for _ in range(2)] == [second, second]
    assert reads == ["revision", "whole", "whole"]


def test_r_task_2_with_nobody_to_assign_the_request_is_409_and_nothing_is_stored_or_emitted(tasks):
    author = tasks.who(str(uuid.uuid4()), "admin")
    status, body = tasks.request("POST", "/tasks", {"title": "Nobody can take it"}, who=author)
    assert (status, body["error"]["code"]) == (409, "no_assignee")
    assert "worker" in body["error"]["message"]
    assert tasks.items("TASK#") == [] and tasks.items("OUTBOX#") == []

    worker = tasks.popug(["worker"])
    _, promoted = tasks.account(worker, roles=["worker", "manager"], version=2, changed=True)
    tasks.consume(promoted)  # the last assignee leaves the pool
    assert tasks.request("POST", "/tasks", {"title": "Still nobody"}, who=author)[0] == 409
    assert tasks.items("TASK#") == [] and tasks.items("OUTBOX#") == []


def test_r_task_1_created_task_and_its_two_events_commit_together(tasks):
    worker = tasks.popug(["worker"])
    author = str(uuid.uuid4())
    body = {"title": "Sort the seeds", "jira_id": "UBERPOP-42", "description": "By size.", "due_date": "2026-12-31"}
    status, task = tasks.request("POST", "/tasks", body, who=tasks.who(author, "accountant"))
    assert status == 201
    fields = ("title", "jira_id", "description", "due_date", "status", "assignee_id", "created_by")
    assert {k: task[k] for k in fields} == {**body, "status": "open", "assignee_id": worker, "created_by": author}
    assert task["created_at"] and uuid.UUID(task["task_id"])
    (item,) = tasks.outbox()
    assert [(e["event_name"], e["event_version"]) for e in item] == [("TaskCreated", 2), ("TaskAssigned", 1)]
    created, assigned = (e["data"] for e in item)
    assert (created["jira_id"], created["title"], created["due_date"]) == ("UBERPOP-42", "Sort the seeds", "2026-12-31")
    assert assigned == {"task_id": task["task_id"], "assignee_id": worker, "reason": "created"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "[UBERPOP-1] Sort"}, "title"),
        ({"title": "ok", "jira_id": "uberpop-1"}, "jira_id"),
        ({"title": "ok", "description": "d" * 4001}, "description"),
        ({"title": "ok", "due_date": "2026-13-01"}, "due_date"),
        ({}, "title"),
        ({"title": 42}, "title"),
        ({"title": "ok", "assignee_id": str(uuid.uuid4())}, "assignee_id"),
    ],
)
def test_r_task_1_invalid_tasks_are_422_with_a_message_naming_the_field(tasks, body, field):
    tasks.popug(["worker"])
    status, error = tasks.request("POST", "/tasks", body)
    assert status == 422 and field in [f["field"] for f in error["error"]["fields"]], error
    named = label(field).removeprefix("the ").lower()  # named in words, not as `jira_id:` (R-UI-7)
    assert named in error["error"]["message"].lower(), error
    assert tasks.items("TASK#") == []


def test_a_body_that_is_not_json_is_400(tasks):
    assert tasks.request("POST", "/tasks", raw_body="{not json")[0] == 400


# --- completion (R-TASK-4, R-TASK-6) ---------------------------------------------------------------


def test_r_task_4_only_the_assignee_completes_and_only_once(tasks):
    worker = tasks.popug(["worker"])
    task = tasks.create(tasks.who(worker))
    path = f"/tasks/{task['task_id']}/complete"

    for stranger in (tasks.who(str(uuid.uuid4())), tasks.who(str(uuid.uuid4()), "admin")):
        status, body = tasks.request("POST", path, who=stranger)
        assert (status, body["error"]["code"]) == (409, "not_assignee")

    status, done = tasks.request("POST", path, who=tasks.who(worker))
    assert status == 200 and done["status"] == "done" and done["completed_at"]
    status, body = tasks.request("POST", path, who=tasks.who(worker))
    assert (status, body["error"]["code"]) == (409, "already_done")

    (event,) = tasks.events("TaskCompleted")
    assert event["data"] == {"task_id": task["task_id"], "assignee_id": worker}
    stored = tasks.items(f"TASK#{task['task_id']}")
    (item,) = [i for i in stored if i["sk"] == "TASK"]
    completed = datetime.fromisoformat(done["completed_at"].replace("Z", "+00:00")).timestamp()
    assert item["expires_at"] - completed == pytest.approx(30 * 24 * 3600, abs=2)  # R-TASK-6
    assert "gsi3pk" not in item  # no longer an open task for the shuffle
    # its history (created, completed: R-UI-4) goes with it
    history = [i for i in stored if i["sk"].startswith("HIST#")]
    assert sorted(i["kind"] for i in history) == ["completed", "created"]
    assert {i["expires_at"] for i in history} == {item["expires_at"]}


def test_unknown_task_is_404_and_a_malformed_id_422(tasks):
    assert tasks.request("POST", f"/tasks/{uuid.uuid4()}/complete")[0] == 404
    assert tasks.request("GET", f"/tasks/{uuid.uuid4()}")[0] == 404
    assert tasks.request("GET", "/tasks/not-an-id")[0] == 422


def test_r_task_6_a_completed_task_past_its_ttl_is_hidden_before_dynamodb_deletes_it(tasks):
    worker = tasks.popug(["worker"])
    me = tasks.who(worker)
    kept, expired = tasks.create(me, "Kept"), tasks.create(me, "Expired")
    for task in (kept, expired):
        assert tasks.request("POST", f"/tasks/{task['task_id']}/complete", who=me)[0] == 200
    for item in tasks.items(f"TASK#{expired['task_id']}", ("sk",)):  # the task and its history expire together
        client("dynamodb").update_item(
            TableName=tasks.table, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
            UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1000"}},
        )  # fmt: skip
    assert tasks.request("GET", f"/tasks/{expired['task_id']}", who=me)[0] == 404
    assert tasks.request("POST", f"/tasks/{expired['task_id']}/complete", who=me)[0] == 404
    _, page = tasks.request("GET", "/tasks", who=me, query={"status": "done"})
    assert [t["task_id"] for t in page["items"]] == [kept["task_id"]]
    _, page = tasks.request("GET", "/tasks", who=tasks.who(worker, "admin"))
    assert [t["task_id"] for t in page["items"]] == [kept["task_id"]]


def test_r_task_6_the_devstack_sweeper_removes_expired_tasks_and_keeps_the_rest(tasks, emulator):
    from devstack.sweeper import Sweeper

    me = tasks.who(tasks.popug(["worker"]))
    open_task, kept, expired = (tasks.create(me, title) for title in ("Open", "Kept", "Expired"))
    for task in (kept, expired):
        tasks.request("POST", f"/tasks/{task['task_id']}/complete", who=me)
    for item in tasks.items(f"TASK#{expired['task_id']}", ("sk",)):  # the task and its history expire together
        client("dynamodb").update_item(
            TableName=tasks.table, Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
            UpdateExpression="SET expires_at = :past", ExpressionAttributeValues={":past": {"N": "1000"}},
        )  # fmt: skip
    console = type("Quiet", (), {"__getattr__": lambda self, name: lambda *a, **k: None})()
    swept = Sweeper({tasks.table: "expires_at"}, endpoint_url=emulator, console=console).sweep()
    assert swept[tasks.table] >= 1
    assert tasks.items(f"TASK#{expired['task_id']}") == []
    assert tasks.items(f"TASK#{kept['task_id']}") and tasks.items(f"TASK#{open_task['task_id']}")


# --- lists and visibility (R-TASK-5) ---------------------------------------------------------------


@pytest.fixture()
def two_workers(tasks, monkeypatch):
    """Worker a holds 3 tasks (one of them done), worker b holds 2."""
    a, b = tasks.popug(["worker"]), tasks.popug(["worker"])
    held = {a: [], b: []}
    for who, count in ((a, 3), (b, 2)):
        monkeypatch.setattr(tasks.api, "rng", Pick(who))
        held[who] = [tasks.create(tasks.who(a), f"For {who[:4]} #{i}")["task_id"] for i in range(count)]
    assert tasks.request("POST", f"/tasks/{held[a][0]}/complete", who=tasks.who(a))[0] == 200
    return a, b, held


def ids(page: dict[str, Any]) -> set[str]:
    return {t["task_id"] for t in page["items"]}


def test_r_task_5_workers_see_only_their_own_tasks(tasks, two_workers):
    a, b, held = two_workers
    me = tasks.who(a)
    for query in (None, {"assignee_id": "me"}, {"assignee_id": a}):
        status, page = tasks.request("GET", "/tasks", who=me, query=query)
        assert status == 200 and ids(page) == set(held[a]) and page["next_cursor"] is None
    _, page = tasks.request("GET", "/tasks", who=me, query={"status": "open"})
    assert ids(page) == set(held[a][1:])
    status, body = tasks.request("GET", "/tasks", who=me, query={"assignee_id": b})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert tasks.request("GET", f"/tasks/{held[a][1]}", who=me)[0] == 200
    assert tasks.request("GET", f"/tasks/{held[b][0]}", who=me)[0] == 403


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_r_task_5_managers_and_admins_see_all_filtered_by_status_and_assignee(tasks, two_workers, role):
    a, b, held = two_workers
    boss = tasks.who(str(uuid.uuid4()), role)
    _, page = tasks.request("GET", "/tasks", who=boss)
    assert ids(page) == set(held[a] + held[b])
    assert [t["status"] for t in page["items"]] == ["open"] * 4 + ["done"]  # open first, then done
    assert ids(tasks.request("GET", "/tasks", who=boss, query={"status": "done"})[1]) == {held[a][0]}
    assert ids(tasks.request("GET", "/tasks", who=boss, query={"assignee_id": b})[1]) == set(held[b])
    _, page = tasks.request("GET", "/tasks", who=boss, query={"assignee_id": a, "status": "open"})
    assert ids(page) == set(held[a][1:])
    assert ids(tasks.request("GET", "/tasks", who=boss, query={"assignee_id": "me"})[1]) == set()
    assert tasks.request("GET", f"/tasks/{held[b][1]}", who=boss)[0] == 200


def test_r_task_5_lists_page_through_every_task_once(tasks, two_workers):
    a, b, held = two_workers
    boss = tasks.who(str(uuid.uuid4()), "manager")
    seen, cursor = [], None
    for _ in range(5):
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, page = tasks.request("GET", "/tasks", who=boss, query=query)
        assert status == 200 and len(page["items"]) <= 2
        seen += [t["task_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(held[a] + held[b])


def test_a_cursor_only_works_for_the_list_that_gave_it(tasks, two_workers):
    a, b, _ = two_workers
    _, page = tasks.request("GET", "/tasks", who=tasks.who(b), query={"limit": "1"})
    assert page["next_cursor"]
    for who, query in ((tasks.who(a), {"cursor": page["next_cursor"]}),
                       (tasks.who(b), {"cursor": "not-a-cursor"}),
                       (tasks.who(b), {"cursor": page["next_cursor"], "status": "done"})):  # fmt: skip
        status, body = tasks.request("GET", "/tasks", who=who, query=query)
        assert (status, body["error"]["code"]) == (422, "invalid_cursor"), body


@pytest.mark.parametrize("query", [{"status": "closed"}, {"assignee_id": "someone"}, {"limit": "0"}, {"limit": "101"}])
def test_bad_list_filters_are_422(tasks, query):
    assert tasks.request("GET", "/tasks", query=query)[0] == 422


def test_a_request_without_a_caller_is_401(tasks):
    event = api_event("GET", "/api/tasks", caller=None)
    assert call(tasks.api.lambda_handler, event)[0] == 401
    response = tasks.api.lambda_handler(api_event("POST", "/api/tasks", body={"title": "x"}), LambdaContext())
    assert response["statusCode"] == 401
