"""The tasks table behind small functions; the only module that knows its keys.

    TASK#<id> / TASK           a task (with accounting's price once TaskPriced is applied, R-UI-4)
        gsi1: "TASK" / <status>#<created_at>#<id>          every task, by status (managers' lists)
        gsi2: <assignee_id> / <status>#<created_at>#<id>   a popug's tasks, by status
        gsi3: "OPEN" / <created_at>#<id>, only while open  what a shuffle walks (keys + assignee_id,
                                                           shuffled_by: small pages, one Query each)
        gsi4: "TASK" / <title, lower case>#<id>            every task by title (sort, title search)
        gsi5: "JIRA" / <jira_id>#<id>, only with a jira id every task by Jira id (Jira id search)
    TASK#<id> / HIST#<at>#<kind>[#<job>]  the task's history (created, shuffled, completed), each written in
                               the transaction that made it happen; given the task's TTL when it is done
    TASK#<id> / PRICE          a price that came before the task was stored here (TaskPriced, R-EV-3):
                               reads merge it, so the order of the events does not matter
    ACCOUNT#<id> / ACCOUNT     what tasks knows of a popug (auth version, roles, active, dismissed)
    POOL / POOL                `ids`: string set of every current assignee (R-TASK-2), written in the
                               same transaction as the account that joins or leaves it, so a uniform
                               choice is one GetItem; `rev`: a new random token at each change of it
    JOB#<id> / SHUFFLE         a shuffle job and its progress; its stream record drives the next step
    LOCK#SHUFFLE / LOCK        held by the one running shuffle
    OUTBOX#<uuid> / OUTBOX     events for the relay;  INBOX#<event_id> / <consumer>: applied events
Every change is one transaction with its outbox item; a failed condition maps to a domain error.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

from shared import clock, dynamo, pagination
from shared.aws import client
from shared.contracts import Envelope
from shared.errors import Unprocessable
from shared.events.outbox import outbox_put
from tasks.domain import (
    HistoryEntry,
    ListOrder,
    OpenTask,
    Popug,
    Price,
    Reassignment,
    ShuffleJob,
    Task,
    history_in_order,
    title_key,
)
from tasks.settings import get as settings

TASK_PREFIX, TASK_SK = "TASK#", "TASK"
ACCOUNT_PREFIX, ACCOUNT_SK = "ACCOUNT#", "ACCOUNT"
POOL_KEY = ("POOL", "POOL")
POOL_REV = "rev"
JOB_PREFIX, JOB_SK = "JOB#", "SHUFFLE"
LOCK_KEY = ("LOCK#SHUFFLE", "LOCK")
ALL_TASKS, OPEN_TASKS, JIRA_TASKS = "TASK", "OPEN", "JIRA"
HISTORY_PREFIX, PRICE_SK = "HIST#", "PRICE"
PRICE_RETENTION_SECONDS = 365 * 24 * 3600  # a price whose task never comes here does not stay forever
JOB_RETENTION_SECONDS = 30 * 24 * 3600
MAX_PAGES_PER_REQUEST = 20  # a filtered list reads on until the page is full, within bounds
STATUS = {"#s": "status"}  # a reserved word in DynamoDB expressions


class AssigneeGone(Exception):
    """The chosen assignee stopped being one between the pool read and the commit: choose again."""


class CompletionRefused(Exception):
    """The task was not open or not the caller's at commit time: re-read it to say why."""


class ShuffleLocked(Exception):
    """Another shuffle holds the lock."""


def table() -> str:
    return settings().tasks_table_name


# --- tasks -----------------------------------------------------------------------------------------


def _sort_key(status: str, created_at: str, task_id: str) -> str:
    return f"{status}#{created_at}#{task_id}"


def task_item(task: Task) -> dict[str, Any]:
    sort = _sort_key(task.status, task.created_at, task.task_id)
    item: dict[str, Any] = {
        "pk": f"{TASK_PREFIX}{task.task_id}", "sk": TASK_SK,
        "gsi1pk": ALL_TASKS, "gsi1sk": sort, "gsi2pk": task.assignee_id, "gsi2sk": sort,
        "gsi4pk": ALL_TASKS, "gsi4sk": f"{title_key(task.title)}#{task.task_id}",
        **task.public(), "expires_at": task.expires_at, "shuffled_by": task.shuffled_by,
    }  # fmt: skip
    if task.jira_id:
        item["gsi5pk"], item["gsi5sk"] = JIRA_TASKS, f"{task.jira_id}#{task.task_id}"
    if task.status == "open":
        item["gsi3pk"], item["gsi3sk"] = OPEN_TASKS, f"{task.created_at}#{task.task_id}"
    return item


def _task(item: dict[str, Any]) -> Task:
    return Task(
        task_id=item["task_id"], title=item["title"], jira_id=item.get("jira_id"),
        description=item.get("description", ""), due_date=item.get("due_date"), status=item["status"],
        assignee_id=item["assignee_id"], created_by=item["created_by"], created_at=item["created_at"],
        assigned_at=item.get("assigned_at", item["created_at"]), completed_at=item.get("completed_at"),
        expires_at=item.get("expires_at"), shuffled_by=item.get("shuffled_by"),
        assign_fee=_cents(item.get("assign_fee")), reward=_cents(item.get("reward")),
    )  # fmt: skip


def _cents(value: Any) -> int | None:
    return None if value is None else int(value)


def get_task(task_id: str) -> Task | None:
    item = dynamo.get(table(), f"{TASK_PREFIX}{task_id}", TASK_SK)
    return _task(item) if item else None


def read_task(task_id: str) -> tuple[Task | None, list[HistoryEntry], bool]:
    """The task (priced if accounting's price is known), its history oldest first, and whether a price
    item waits beside it: everything under the task's key, in one consistent Query (a few pages only for a
    task shuffled hundreds of times)."""
    params: dict[str, Any] = {
        "TableName": table(), "KeyConditionExpression": "pk = :pk", "ConsistentRead": True,
        "ExpressionAttributeValues": {":pk": {"S": f"{TASK_PREFIX}{task_id}"}},
    }  # fmt: skip
    task, price, history = None, None, []
    while True:
        page = client("dynamodb").query(**params)
        for raw in page.get("Items", []):
            item = dynamo.from_item(raw)
            if item["sk"] == TASK_SK:
                task = _task(item)
            elif item["sk"] == PRICE_SK:
                price = Price(int(item["assign_fee"]), int(item["reward"]))
            elif item["sk"].startswith(HISTORY_PREFIX):
                history.append(_history(task_id, item))
        if not page.get("LastEvaluatedKey"):
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return (task.priced(price) if task else None), history_in_order(history), price is not None


def _history(task_id: str, item: dict[str, Any]) -> HistoryEntry:
    return HistoryEntry(task_id=task_id, at=item["at"], kind=item["kind"], assignee_id=item["assignee_id"],
                        by=item.get("by"))  # fmt: skip


def _history_sk(entry: HistoryEntry) -> str:
    # a shuffle job reassigns a task once, so (time, kind, job) names one event
    return f"{HISTORY_PREFIX}{entry.at}#{entry.kind}" + (f"#{entry.by}" if entry.kind == "shuffled" else "")


def history_action(entry: HistoryEntry) -> dict[str, Any]:
    """One event of the task's history, for the transaction that makes it happen."""
    item = {"pk": f"{TASK_PREFIX}{entry.task_id}", "sk": _history_sk(entry), **entry.public()}
    return dynamo.put(table(), {k: v for k, v in item.items() if v is not None})


def _with_prices(tasks: list[Task]) -> list[Task]:
    """Tasks whose item does not hold a price yet, priced from a price item that came first (one
    BatchGetItem for the page, only when some task on it lacks a price)."""
    missing = [t.task_id for t in tasks if t.assign_fee is None]
    if not missing:
        return tasks
    keys = [dynamo.key(f"{TASK_PREFIX}{t}", PRICE_SK) for t in missing]
    prices = {
        item["pk"].removeprefix(TASK_PREFIX): Price(int(item["assign_fee"]), int(item["reward"]))
        for item in dynamo.batch_get(table(), keys)
    }
    return [t.priced(prices.get(t.task_id)) for t in tasks]


def price_actions(task_id: str, price: Price, task: Task | None) -> list[dict[str, Any]]:
    """Keep accounting's price (TaskPriced) with the task: on the task item, so lists show it, or, when the
    task is not stored here (yet, or any more), in a price item that reads merge. A price never changes
    (R-ACC-1), so writing it again is harmless; the task write is conditional on the task still being
    there (it may expire meanwhile: then the event is applied again from fresh reads)."""
    if task is None:
        item = {"pk": f"{TASK_PREFIX}{task_id}", "sk": PRICE_SK, "task_id": task_id, "assign_fee": price.assign_fee,
                "reward": price.reward, "expires_at": clock.epoch_seconds() + PRICE_RETENTION_SECONDS}  # fmt: skip
        return [dynamo.put(table(), item)]
    if task.assign_fee is not None:
        return []
    return [
        dynamo.update(
            table(), f"{TASK_PREFIX}{task_id}", TASK_SK, "SET assign_fee = :fee, reward = :reward",
            condition="attribute_exists(pk)", values={":fee": price.assign_fee, ":reward": price.reward},
        )
    ]  # fmt: skip


def tasks_by_ids(task_ids: Iterable[str]) -> dict[str, Task]:
    """Consistent reads of up to 100 tasks in one call (more calls only for what DynamoDB leaves unprocessed)."""
    keys = [dynamo.key(f"{TASK_PREFIX}{t}", TASK_SK) for t in dict.fromkeys(task_ids)]
    tasks = (_task(item) for item in dynamo.batch_get(table(), keys))
    return {task.task_id: task for task in tasks}


def create_task(task: Task, events: list[Envelope]) -> None:
    """The task, a check that its assignee still is one (R-TASK-2), and its events: all or nothing."""
    still_assignee = {
        "ConditionCheck": {
            "TableName": table(),
            "Key": dynamo.key(f"{ACCOUNT_PREFIX}{task.assignee_id}", ACCOUNT_SK),
            "ConditionExpression": "eligible = :yes",
            "ExpressionAttributeValues": {":yes": {"BOOL": True}},
        }
    }
    created = HistoryEntry(task.task_id, task.created_at, "created", task.assignee_id, task.created_by)
    actions = [
        dynamo.put(table(), task_item(task), condition="attribute_not_exists(pk)"),
        still_assignee,
        outbox_put(table(), events),
        history_action(created),
    ]
    dynamo.transact(actions, {1: AssigneeGone()})


def complete_task(task: Task, events: list[Envelope], history: list[HistoryEntry], price_item: bool) -> None:
    """`task` is the completed task; the write holds only if it is still open, still its assignee's and
    not reassigned since it was read, which is what makes completion and shuffle race safely (R-TASK-4).
    The task's history (and a price item beside it) gets the task's TTL in the same transaction, so nothing
    of a task outlives it (R-TASK-6); what does not fit in one transaction follows right after it."""
    sort = _sort_key("done", task.created_at, task.task_id)
    action = dynamo.update(
        table(), f"{TASK_PREFIX}{task.task_id}", TASK_SK,
        "SET #s = :done, completed_at = :at, expires_at = :exp, gsi1sk = :sort, gsi2sk = :sort "
        "REMOVE gsi3pk, gsi3sk",
        condition="#s = :open AND assignee_id = :who AND assigned_at = :assigned", names=STATUS,
        values={":done": "done", ":at": task.completed_at, ":exp": task.expires_at, ":sort": sort, ":open": "open",
                ":who": task.assignee_id, ":assigned": task.assigned_at},
    )  # fmt: skip
    completed = HistoryEntry(task.task_id, task.completed_at or "", "completed", task.assignee_id, task.assignee_id)
    expiring = [_history_sk(entry) for entry in history] + ([PRICE_SK] if price_item else [])
    history_put = {"Put": {**history_action(completed)["Put"]}}
    history_put["Put"]["Item"]["expires_at"] = {"N": str(task.expires_at)}
    actions = [action, outbox_put(table(), events), history_put]
    room = dynamo.MAX_TRANSACTION_ACTIONS - len(actions)
    now_expiring, later = expiring[:room], expiring[room:]
    actions += [_expire(task.task_id, sk, task.expires_at) for sk in now_expiring]
    dynamo.transact(actions, {0: CompletionRefused()})
    size = dynamo.MAX_TRANSACTION_ACTIONS
    for first in range(0, len(later), size):
        dynamo.transact([_expire(task.task_id, sk, task.expires_at) for sk in later[first : first + size]])


def _expire(task_id: str, sk: str, expires_at: int | None) -> dict[str, Any]:
    # unconditional: only TTL deletes these items, and only once this has given them an expiry
    return dynamo.update(table(), f"{TASK_PREFIX}{task_id}", sk, "SET expires_at = :exp", values={":exp": expires_at})


def _index(assignee_id: str | None, order: ListOrder) -> tuple[str, str]:
    """The index a list reads, and its partition."""
    if order.by == "title":
        return "gsi4", ALL_TASKS
    if order.by == "jira":
        return "gsi5", JIRA_TASKS
    return ("gsi2", assignee_id) if assignee_id else ("gsi1", ALL_TASKS)


def _start_key(cursor: str | None, index: str, partition: str, prefix: str | None) -> dict[str, Any] | None:
    """A cursor is only ever one this list gave out: the keys of that index, in that partition (and, for a
    list that reads a key prefix, within it)."""
    start = pagination.decode(cursor)
    if start is None:
        return None
    expected = {"pk", "sk", f"{index}pk", f"{index}sk"}
    if (
        set(start) != expected
        or not all(isinstance(v, str) for v in start.values())
        or start[f"{index}pk"] != partition
        or (prefix and not start[f"{index}sk"].startswith(prefix))
    ):
        raise Unprocessable(
            "This list's place to go on from (the cursor) belongs to another list or search; start the list "
            "again without it.",
            code="invalid_cursor",
        )
    return start


def list_tasks(
    *,
    assignee_id: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
    now_epoch: int,
    order: ListOrder | None = None,
) -> tuple[list[Task], str | None]:
    """By creation (newest first by default; open before done when both are listed), by title, or a title or
    Jira id search (a key prefix of the title or Jira index: it reads what matches, not the table). Every
    read is a Query on an index; filters the key cannot hold (status and assignee beside a title order, the
    TTL of done tasks) are applied by DynamoDB, reading on until the page is full, within bounds: DynamoDB
    applies `Limit` before the filter, so one request evaluates at most MAX_PAGES_PER_REQUEST * limit items
    and answers a cursor to go on from."""
    order = order or ListOrder(by="created", ascending=False)
    index, partition = _index(assignee_id, order)
    condition = f"{index}pk = :p"
    values: dict[str, Any] = {":p": partition, ":now": now_epoch}
    filters = ["(attribute_not_exists(expires_at) OR expires_at > :now)"]
    names: dict[str, str] = {}
    key_prefix = None
    if order.by == "created":
        key_prefix = f"{status}#" if status else None
    else:
        key_prefix = order.prefix
        if status:
            filters.append("#s = :status")
            values[":status"], names["#s"] = status, "status"
        if assignee_id:
            filters.append("assignee_id = :who")
            values[":who"] = assignee_id
    if key_prefix:
        condition += f" AND begins_with({index}sk, :s)"
        values[":s"] = key_prefix
    params: dict[str, Any] = {
        "TableName": table(), "IndexName": index, "KeyConditionExpression": condition,
        "ScanIndexForward": order.ascending, "FilterExpression": " AND ".join(filters),
        "ExpressionAttributeValues": dynamo.to_item(values),
    }  # fmt: skip
    if names:
        params["ExpressionAttributeNames"] = names
    start = _start_key(cursor, index, partition, key_prefix)
    tasks: list[Task] = []
    for _ in range(MAX_PAGES_PER_REQUEST):
        if start:
            params["ExclusiveStartKey"] = dynamo.to_item(start)
        page = client("dynamodb").query(**params, Limit=limit - len(tasks))
        tasks += [_task(dynamo.from_item(i)) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        start = dynamo.from_item(last) if last else None
        if not start or len(tasks) >= limit:
            break
    return _with_prices(tasks), pagination.encode(start)


# --- the assignee pool -----------------------------------------------------------------------------


# The pool a warm process read last, per table: (its `rev`, its ids).
_kept_pool: dict[str, tuple[str, frozenset[str]]] = {}


def pool_ids() -> set[str]:
    """The current assignee pool. It is one item of every assignee's id (1,000 popugs: 37 KB, and 10,000
    would be 370 KB: 93 read units in AWS), read at each task's creation, and it changes only when a popug
    joins or leaves it: a warm process keeps the ids it read with the pool's `rev` and reads only the `rev`
    while it stands (still one GetItem), the whole item again once it changed. A pool item written before
    revisions is read whole each time."""
    kept = _kept_pool.get(table())
    if kept is not None:
        head = dynamo.get(table(), *POOL_KEY, attributes=(POOL_REV,))
        if head is not None and head.get(POOL_REV) == kept[0]:
            return set(kept[1])
    item = dynamo.get(table(), *POOL_KEY)
    ids = set(item.get("ids") or ()) if item else set()
    if item and item.get(POOL_REV):
        _kept_pool[table()] = (item[POOL_REV], frozenset(ids))
    else:
        _kept_pool.pop(table(), None)
    return ids


def _pool_change(account_id: str, joins: bool) -> dict[str, Any]:
    """The pool's update when a popug joins or leaves it, with a new `rev` (random, so a pool written again
    from nothing never takes the revision a process kept)."""
    change = "ADD ids :id" if joins else "DELETE ids :id"
    values = {":id": {account_id}, ":rev": uuid.uuid4().hex}
    return dynamo.update(table(), *POOL_KEY, f"{change} SET {POOL_REV} = :rev", values=values)


def get_popug(account_id: str) -> Popug | None:
    item = dynamo.get(table(), f"{ACCOUNT_PREFIX}{account_id}", ACCOUNT_SK)
    if not item:
        return None
    return Popug(
        account_id=item["account_id"], version=int(item.get("version", 0)), roles=tuple(item.get("roles") or ()),
        active=bool(item.get("active")), dismissed=bool(item.get("dismissed")), rev=int(item.get("rev", 0)),
    )  # fmt: skip


def popug_actions(before: Popug | None, after: Popug) -> list[dict[str, Any]]:
    """The account as tasks knows it, conditional on the revision it was read at (two consumers racing
    on one popug: the second fails and is retried), and the pool change if eligibility changed."""
    item = {
        "pk": f"{ACCOUNT_PREFIX}{after.account_id}", "sk": ACCOUNT_SK, "account_id": after.account_id,
        "version": after.version, "roles": list(after.roles), "active": after.active, "dismissed": after.dismissed,
        "eligible": after.eligible, "rev": after.rev,
    }  # fmt: skip
    if before is None:
        actions = [dynamo.put(table(), item, condition="attribute_not_exists(pk)")]
    else:
        actions = [dynamo.put(table(), item, condition="rev = :rev", values={":rev": before.rev})]
    was_eligible = before.eligible if before else False
    if after.eligible != was_eligible:
        actions.append(_pool_change(after.account_id, after.eligible))
    return actions


# --- shuffle jobs ----------------------------------------------------------------------------------


def job_item(job: ShuffleJob) -> dict[str, Any]:
    return {
        "pk": f"{JOB_PREFIX}{job.job_id}", "sk": JOB_SK, "job_id": job.job_id, "status": job.status,
        "total": job.total, "done": job.done, "skipped": job.skipped, "step": job.step, "cursor": job.cursor,
        "before": job.before, "started_at": job.started_at, "started_by": job.started_by,
        "updated_at": job.updated_at, "finished_at": job.finished_at, "error": job.error,
    }  # fmt: skip


def job_from(item: dict[str, Any]) -> ShuffleJob:
    return ShuffleJob(
        job_id=item["job_id"], status=item["status"], done=int(item.get("done", 0)),
        total=int(item["total"]) if item.get("total") is not None else None,  # None: not counted yet
        skipped=int(item.get("skipped", 0)), step=int(item.get("step", 0)), cursor=item.get("cursor"),
        before=item["before"], started_at=item["started_at"], started_by=item.get("started_by", ""),
        updated_at=item.get("updated_at"), finished_at=item.get("finished_at"), error=item.get("error"),
    )  # fmt: skip


def get_job(job_id: str) -> ShuffleJob | None:
    item = dynamo.get(table(), f"{JOB_PREFIX}{job_id}", JOB_SK)
    return job_from(item) if item else None


def job_and_pool(job_id: str) -> tuple[ShuffleJob | None, set[str]]:
    """A shuffle step's two reads in one call: the job as committed, and the current assignee pool."""
    keys = [dynamo.key(f"{JOB_PREFIX}{job_id}", JOB_SK), dynamo.key(*POOL_KEY)]
    job, pool = None, set()
    for item in dynamo.batch_get(table(), keys):
        if item["pk"] == POOL_KEY[0]:
            pool = set(item.get("ids") or ())
        else:
            job = job_from(item)
    return job, pool


def running_job_id() -> str | None:
    item = dynamo.get(table(), *LOCK_KEY)
    return item.get("job_id") if item else None


def _lock_item(job: ShuffleJob) -> dict[str, Any]:
    return {"pk": LOCK_KEY[0], "sk": LOCK_KEY[1], "job_id": job.job_id, "started_at": job.started_at}


def start_job(job: ShuffleJob) -> None:
    """Take the lock and write the job (whose stream record starts it), or raise ShuffleLocked."""
    dynamo.transact(
        [
            dynamo.put(table(), _lock_item(job), condition="attribute_not_exists(pk)"),
            dynamo.put(table(), job_item(job), condition="attribute_not_exists(pk)"),
        ],
        {0: ShuffleLocked()},
    )


def take_over(stale: ShuffleJob, job: ShuffleJob, reason: str, now: str, now_epoch: int) -> None:
    """Fail a job that stopped making progress (if it still says running) and start `job` in its place,
    in one transaction; if the stale job moved meanwhile, nothing happens and ShuffleLocked is raised."""
    actions = [
        dynamo.put(table(), _lock_item(job), condition="job_id = :old", values={":old": stale.job_id}),
        dynamo.put(table(), job_item(job), condition="attribute_not_exists(pk)"),
    ]
    if stale.status == "running":
        actions.append(
            dynamo.update(
                table(), f"{JOB_PREFIX}{stale.job_id}", JOB_SK,
                "SET #s = :failed, #e = :reason, finished_at = :now, updated_at = :now, expires_at = :exp",
                condition="#s = :running AND step = :step", names={**STATUS, "#e": "error"},
                values={":failed": "failed", ":reason": reason, ":now": now, ":running": "running",
                        ":step": stale.step, ":exp": now_epoch + JOB_RETENTION_SECONDS},
            )
        )  # fmt: skip
    dynamo.transact(actions, {0: ShuffleLocked(), 2: ShuffleLocked()})


def _open_condition(before: str) -> dict[str, Any]:
    return {
        "TableName": table(),
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :open AND gsi3sk < :before",
        "ExpressionAttributeValues": {":open": {"S": OPEN_TASKS}, ":before": {"S": before}},
    }


def count_open_before(before: str) -> int:
    """How many tasks a shuffle starting now will walk (the index is small: a page holds thousands)."""
    params = {**_open_condition(before), "Select": "COUNT"}
    total = 0
    while True:
        page = client("dynamodb").query(**params)
        total += page.get("Count", 0)
        if not page.get("LastEvaluatedKey"):
            return total
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def open_tasks_page(before: str, cursor: str | None, limit: int) -> tuple[list[OpenTask], str | None]:
    """Up to `limit` open tasks created before `before`, after `cursor`, in one Query, and the cursor to
    go on from (None: this was the last page). It asks for one more than it needs so that the last page
    is known as such, never followed by an empty one."""
    params = {
        **_open_condition(before),
        "Limit": limit + 1,
        "ProjectionExpression": "pk, gsi3sk, assignee_id, shuffled_by",
    }
    if cursor:
        params["ExclusiveStartKey"] = json.loads(cursor)
    page = client("dynamodb").query(**params)
    items = page.get("Items", [])
    if len(items) > limit:
        items = items[:limit]
        last = {"pk": items[-1]["pk"], "sk": {"S": TASK_SK}, "gsi3pk": {"S": OPEN_TASKS}, "gsi3sk": items[-1]["gsi3sk"]}
        next_cursor: str | None = json.dumps(last, sort_keys=True)
    elif page.get("LastEvaluatedKey"):
        next_cursor = json.dumps(page["LastEvaluatedKey"], sort_keys=True)
    else:
        next_cursor = None
    tasks = [
        OpenTask(
            task_id=i["pk"]["S"].removeprefix(TASK_PREFIX), assignee_id=i["assignee_id"]["S"],
            shuffled_by=i.get("shuffled_by", {}).get("S"),
        )
        for i in items
    ]  # fmt: skip
    return tasks, next_cursor


def reassign_action(change: Reassignment, job_id: str, at: str) -> dict[str, Any]:
    """Conditional on the task being open, still the assignee's the job read, and not yet this job's."""
    return dynamo.update(
        table(), f"{TASK_PREFIX}{change.task_id}", TASK_SK,
        "SET assignee_id = :new, gsi2pk = :new, shuffled_by = :job, assigned_at = :at",
        condition="#s = :open AND assignee_id = :old AND (attribute_not_exists(shuffled_by) OR shuffled_by <> :job)",
        names=STATUS,
        values={":new": change.new_assignee, ":job": job_id, ":at": at, ":open": "open", ":old": change.old_assignee},
    )  # fmt: skip


def outbox_action(events: list[Envelope]) -> dict[str, Any]:
    return outbox_put(table(), events)


def progress_actions(
    job: ShuffleJob, *, cursor: str | None, done: int, skipped: int, final: bool, now: str, now_epoch: int
) -> list[dict[str, Any]]:
    """Record a step, conditional on the job still running at the step this run read (a stale or
    duplicate stream record cannot move it); the last step finishes the job and frees the lock."""
    values: dict[str, Any] = {":running": "running", ":step": job.step, ":next": job.step + 1, ":done": done,
                              ":skipped": skipped, ":now": now}  # fmt: skip
    condition = "#s = :running AND step = :step"
    if not final:
        values[":cursor"] = cursor
        return [
            dynamo.update(
                table(), f"{JOB_PREFIX}{job.job_id}", JOB_SK,
                "SET step = :next, done = :done, skipped = :skipped, updated_at = :now, #c = :cursor",
                condition=condition, names={**STATUS, "#c": "cursor"}, values=values,
            )
        ]  # fmt: skip
    # The total was counted by the job's first step: what the job never reached (completed meanwhile, so
    # gone from the open-tasks index) is skipped too, so a finished job always adds up.
    skipped = max(skipped, (job.total or 0) - done)
    values.update({":finished": "done", ":exp": now_epoch + JOB_RETENTION_SECONDS, ":skipped": skipped,
                   ":total": done + skipped})  # fmt: skip
    return [
        dynamo.update(
            table(), f"{JOB_PREFIX}{job.job_id}", JOB_SK,
            "SET step = :next, done = :done, skipped = :skipped, updated_at = :now, finished_at = :now, "
            "#s = :finished, expires_at = :exp, #t = :total REMOVE #c",
            condition=condition, names={**STATUS, "#c": "cursor", "#t": "total"}, values=values,
        ),
        _release_lock(job.job_id),
    ]  # fmt: skip


def counted_actions(job: ShuffleJob, total: int, now: str) -> list[dict[str, Any]]:
    """Record the job's total (its first step), which drives the first reassigning step."""
    return [
        dynamo.update(
            table(), f"{JOB_PREFIX}{job.job_id}", JOB_SK, "SET step = :next, #t = :total, updated_at = :now",
            condition="#s = :running AND step = :step", names={**STATUS, "#t": "total"},
            values={":next": job.step + 1, ":total": total, ":now": now, ":running": "running", ":step": job.step},
        )
    ]  # fmt: skip


def fail_actions(job: ShuffleJob, error: str, now: str, now_epoch: int) -> list[dict[str, Any]]:
    return [
        dynamo.update(
            table(), f"{JOB_PREFIX}{job.job_id}", JOB_SK,
            "SET #s = :failed, #e = :error, updated_at = :now, finished_at = :now, expires_at = :exp",
            condition="#s = :running AND step = :step", names={**STATUS, "#e": "error"},
            values={":failed": "failed", ":error": error, ":now": now, ":running": "running", ":step": job.step,
                    ":exp": now_epoch + JOB_RETENTION_SECONDS},
        ),
        _release_lock(job.job_id),
    ]  # fmt: skip


def _release_lock(job_id: str) -> dict[str, Any]:
    return dynamo.delete(
        table(), *LOCK_KEY, condition="attribute_not_exists(pk) OR job_id = :job", values={":job": job_id}
    )
