"""The shuffle job on the emulator (R-TASK-3, R-TASK-4): every open task reassigned once per job, one
TaskAssigned("shuffle") each, progress visible, one job at a time, resumable after a crash, safe against
concurrent completions, and cheap: AWS calls per task counted with a botocore hook.

The job and the relay are driven the way Lambda's pollers drive them: from the table's real stream,
through the FilterCriteria of their template event sources, in batches of their BatchSize."""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from typing import Any

import pytest

from devstack import filters
from shared.aws import client
from tests.integration.conftest import LambdaContext
from tests.integration.test_tasks_handlers import Pick, TasksWorld, tasks_world

MANAGER = {"sub": str(uuid.uuid4()), "roles": "manager", "department_id": "", "active": "true"}


class StreamPoller:
    """Reads a table's real stream from TRIM_HORIZON and feeds what a mapping's template FilterCriteria let
    through to its handler, in its BatchSize; a reported failure is delivered again from that record on.
    (The emulator serialises every record it returns, so this is for small tables.)"""

    def __init__(self, world: TasksWorld, mapping: str, handler) -> None:
        props = world.provisioned.properties(mapping)
        self.patterns = filters.compile_criteria(props.get("FilterCriteria"))
        self.batch_size = int(props.get("BatchSize", 100))
        self.handler = handler
        self.streams = client("dynamodbstreams")
        arn = client("dynamodb").describe_table(TableName=world.table)["Table"]["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.streams.get_shard_iterator(StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="TRIM_HORIZON")[
                "ShardIterator"
            ]
            for s in shards
        ]
        self.backlog: list[dict[str, Any]] = []
        self.failures = 0

    def read(self) -> None:
        for index, iterator in enumerate(self.iterators):
            while True:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                iterator = response.get("NextShardIterator") or iterator
                self.backlog += [r for r in response["Records"] if filters.passes(self.patterns, r)]
                if not response["Records"]:
                    break
            self.iterators[index] = iterator

    def invoke_once(self) -> bool:
        """One invocation with the next batch; False when there was nothing to deliver."""
        self.read()
        if not self.backlog:
            return False
        batch, self.backlog = self.backlog[: self.batch_size], self.backlog[self.batch_size :]
        result = self.handler({"Records": batch}, LambdaContext())
        failed = [int(f["itemIdentifier"]) for f in result.get("batchItemFailures", [])]
        if failed:
            self.failures += 1
            self.backlog = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= min(failed)] + self.backlog
        return True

    def drain(self, limit: int = 500) -> int:
        invocations = 0
        while invocations < limit and self.invoke_once():
            invocations += 1
        return invocations


def stream_record(item: dict[str, Any], sequence: int, event_name: str = "MODIFY") -> dict[str, Any]:
    return {
        "eventID": str(sequence), "eventName": event_name, "eventSource": "aws:dynamodb",
        "dynamodb": {"Keys": {"pk": item["pk"], "sk": item["sk"]}, "NewImage": item, "SequenceNumber": str(sequence),
                     "StreamViewType": "NEW_IMAGE"},
    }  # fmt: skip


class JobDriver:
    """What the job's stream event source delivers, without reading the whole stream back from the
    emulator: every committed write of a RUNNING job item is one record with its new image (the template
    filter drops the rest, see test_the_template_filters_...); a reported failure is delivered again."""

    def __init__(self, world: TasksWorld) -> None:
        self.world = world
        self.handler = world.job.lambda_handler
        self.sequence = 0
        self.seen: set[tuple[str, str, str]] = set()
        self.pending: list[dict[str, Any]] = []
        self.failures = 0

    def _poll(self, job_id: str) -> None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self.world.table,
                Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "SHUFFLE"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not item or item["status"]["S"] != "running":
            return
        version = (job_id, item["step"]["N"], item.get("updated_at", {}).get("S", ""))
        if version not in self.seen:
            self.seen.add(version)
            self.sequence += 1
            self.pending.append(stream_record(item, self.sequence, "INSERT" if item["step"]["N"] == "0" else "MODIFY"))

    def invoke_once(self, job_id: str) -> bool:
        self._poll(job_id)
        if not self.pending:
            return False
        batch, self.pending = self.pending[:10], self.pending[10:]
        result = self.handler({"Records": batch}, LambdaContext())
        if result["batchItemFailures"]:
            self.failures += 1
            first = min(int(f["itemIdentifier"]) for f in result["batchItemFailures"])
            self.pending = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= first] + self.pending
        return True

    def drain(self, job_id: str, limit: int = 500) -> int:
        invocations = 0
        while invocations < limit and self.invoke_once(job_id):
            invocations += 1
        return invocations


class RelayDriver:
    """The relay's event source: every new outbox item is one INSERT record, up to 100 a batch."""

    def __init__(self, world: TasksWorld) -> None:
        from shared.events import relay

        self.world = world
        self.handler = relay.lambda_handler
        self.relayed: set[str] = set()
        self.sequence = 10**6

    def drain(self) -> int:
        pages = client("dynamodb").get_paginator("scan").paginate(
            TableName=self.world.table, ConsistentRead=True, FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "OUTBOX#"}},
        )  # fmt: skip
        fresh = [i for page in pages for i in page["Items"] if i["pk"]["S"] not in self.relayed]
        records = []
        for item in sorted(fresh, key=lambda i: i["created_at"]["S"]):
            self.sequence += 1
            self.relayed.add(item["pk"]["S"])
            records.append(stream_record(item, self.sequence, "INSERT"))
        for start in range(0, len(records), 100):
            assert self.handler({"Records": records[start : start + 100]}, LambdaContext()) == {"batchItemFailures": []}
        return -(-len(records) // 100)


@pytest.fixture()
def shuffle_world(as_function, provisioned, monkeypatch) -> TasksWorld:
    tasks = tasks_world(as_function, provisioned, monkeypatch)

    def chunk(size: int) -> None:
        monkeypatch.setenv("SHUFFLE_CHUNK_TASKS", str(size))
        from tasks import settings

        settings.get.cache_clear()

    tasks.jobs = JobDriver(tasks)
    tasks.relay = RelayDriver(tasks)
    tasks.chunk = chunk
    return tasks


def start(world: TasksWorld, who=MANAGER, *, count: bool = True) -> dict[str, Any]:
    """Press shuffle; unless `count=False`, also run the job's first step, which only counts the tasks."""
    status, job = world.request("POST", "/tasks/shuffle", who=who)
    assert status == 202, job
    assert job["total"] is None  # the press does no O(N) work: the job counts
    if count:
        assert world.jobs.invoke_once(job["job_id"])
        assert progress(world, job["job_id"])["total"] is not None
    return job


def progress(world: TasksWorld, job_id: str) -> dict[str, Any]:
    status, job = world.request("GET", f"/tasks/shuffles/{job_id}", who=MANAGER)
    assert status == 200, job
    return job


def shuffle_events(world: TasksWorld, job_id: str) -> list[dict[str, Any]]:
    events = [e for e in world.events("TaskAssigned") if e["data"]["reason"] == "shuffle"]
    assert all(e["correlation_id"] == job_id for e in events)
    return events


# --- roles and refusals ----------------------------------------------------------------------------


def test_r_task_3_only_managers_and_admins_shuffle_and_see_progress(shuffle_world):
    world = shuffle_world
    worker = world.popug(["worker"])
    status, body = world.request("POST", "/tasks/shuffle", who=world.who(worker))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    job = start(world, world.who(str(uuid.uuid4()), "admin"))
    assert world.request("GET", f"/tasks/shuffles/{job['job_id']}", who=world.who(worker))[0] == 403
    assert world.request("GET", f"/tasks/shuffles/{uuid.uuid4()}", who=MANAGER)[0] == 404


def test_r_task_3_a_shuffle_with_nobody_to_assign_to_is_409(shuffle_world):
    status, body = shuffle_world.request("POST", "/tasks/shuffle", who=MANAGER)
    assert (status, body["error"]["code"]) == (409, "no_assignee")
    assert shuffle_world.items("JOB#") == [] and shuffle_world.items("LOCK#") == []


# --- the job ---------------------------------------------------------------------------------------


def test_r_task_3_a_shuffle_reassigns_every_open_task_once_with_visible_progress(shuffle_world, monkeypatch):
    world = shuffle_world
    world.chunk(71)  # 2 transactions a step (49 tasks, then 22 and the progress): 201 tasks take 3 steps
    pool = [world.popug(["worker"]) for _ in range(4)]
    seeded = world.seed_open_tasks(200, pool)
    done_task = world.create(world.who(pool[0]))  # completed before the shuffle: not touched
    monkeypatch.setattr(world.api, "rng", Pick(pool[1]))
    later = world.create(world.who(pool[0]))  # still open: reassigned too
    world.request("POST", f"/tasks/{done_task['task_id']}/complete", who=world.who(done_task["assignee_id"]))

    job = start(world, count=False)
    assert (job["status"], job["total"], job["done"]) == ("running", None, 0)  # the job's first step counts
    status, body = world.request("POST", "/tasks/shuffle", who=MANAGER)
    assert (status, body["error"]["code"]) == (409, "shuffle_running") and job["job_id"] in body["error"]["message"]
    assert body["error"]["job_id"] == job["job_id"]  # for clients: follow the running job

    assert world.jobs.invoke_once(job["job_id"])
    counted = progress(world, job["job_id"])
    assert (counted["status"], counted["done"], counted["total"]) == ("running", 0, 201)
    assert world.jobs.invoke_once(job["job_id"])
    midway = progress(world, job["job_id"])
    assert (midway["status"], midway["done"], midway["total"]) == ("running", 71, 201)
    world.jobs.drain(job["job_id"])
    finished = progress(world, job["job_id"])
    assert (finished["status"], finished["done"], finished["total"], finished["skipped"]) == ("done", 201, 201, 0)
    assert finished["finished_at"] >= finished["started_at"]

    events = shuffle_events(world, job["job_id"])
    assert sorted(e["data"]["task_id"] for e in events) == sorted([*seeded, later["task_id"]])
    assert {e["data"]["assignee_id"] for e in events} <= set(pool)
    assert len({e["data"]["assignee_id"] for e in events}) > 1  # random, not all on one popug
    tasks_now = {t["task_id"]: t for t in world.items("TASK#") if t["sk"] == "TASK"}  # not their history
    assert all(tasks_now[e["data"]["task_id"]]["assignee_id"] == e["data"]["assignee_id"] for e in events)
    assert "shuffled_by" not in tasks_now[done_task["task_id"]]
    assert max(len(item) for item in world.outbox()) == 49  # batched: 49 events per outbox item
    assert start(world)["job_id"] != job["job_id"]  # the lock is free again


def test_r_task_3_a_crashed_step_resumes_without_reassigning_any_task_twice(shuffle_world, monkeypatch):
    world = shuffle_world
    world.chunk(98)  # two transactions a step (49 tasks each, the last with the progress)
    pool = [world.popug(["worker"]) for _ in range(3)]
    seeded = world.seed_open_tasks(250, pool)
    job = start(world)
    assert world.jobs.invoke_once(job["job_id"])  # step 1 commits

    real_commit, commits = world.job._commit, []

    def crash_after_one(*args, **kwargs):
        if commits:
            raise RuntimeError("simulated crash: the function died mid-step")
        commits.append(1)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(world.job, "_commit", crash_after_one)
    assert world.jobs.invoke_once(job["job_id"])
    assert world.jobs.failures == 1  # reported for retry, as Lambda would see it
    crashed = progress(world, job["job_id"])
    assert (crashed["status"], crashed["done"]) == ("running", 98)  # progress moves only with a whole step
    assert len(shuffle_events(world, job["job_id"])) == 98 + 49  # the step's first batch had committed

    monkeypatch.setattr(world.job, "_commit", real_commit)
    world.jobs.drain(job["job_id"])  # the stream delivers the failed record again, then the rest
    finished = progress(world, job["job_id"])
    assert (finished["status"], finished["done"], finished["total"]) == ("done", 250, 250)
    per_task = Counter(e["data"]["task_id"] for e in shuffle_events(world, job["job_id"]))
    assert sorted(per_task) == sorted(seeded) and set(per_task.values()) == {1}


def test_r_task_3_a_stale_or_duplicate_job_record_changes_nothing(shuffle_world):
    world = shuffle_world
    world.chunk(11)
    world.seed_open_tasks(30, [world.popug(["worker"])])
    job = start(world)
    world.jobs._poll(job["job_id"])
    first = list(world.jobs.pending)  # the job's INSERT record
    world.jobs.drain(job["job_id"])
    before = (progress(world, job["job_id"]), len(world.events()))
    for _ in range(2):  # the stream may deliver an old record again, even after the job finished
        assert world.job.lambda_handler({"Records": first * 2}, LambdaContext()) == {"batchItemFailures": []}
    assert (progress(world, job["job_id"]), len(world.events())) == before


def test_r_task_3_a_job_whose_pool_empties_fails_and_frees_the_lock(shuffle_world):
    world = shuffle_world
    world.chunk(23)
    worker = world.popug(["worker"])
    world.seed_open_tasks(40, [worker])
    job = start(world)
    world.jobs.invoke_once(job["job_id"])
    world.dismiss(worker)
    world.jobs.drain(job["job_id"])
    failed = progress(world, job["job_id"])
    assert (failed["status"], failed["done"]) == ("failed", 23) and "no active assignee" in failed["error"]
    assert world.items("LOCK#") == []


def test_r_task_3_a_stalled_job_is_taken_over_by_the_next_press(shuffle_world):
    world = shuffle_world
    world.popug(["worker"])
    world.seed_open_tasks(5, list(world.pool()))
    stalled = start(world)
    client("dynamodb").update_item(
        TableName=world.table, Key={"pk": {"S": f"JOB#{stalled['job_id']}"}, "sk": {"S": "SHUFFLE"}},
        UpdateExpression="SET updated_at = :old", ExpressionAttributeValues={":old": {"S": "2020-01-01T00:00:00.000Z"}},
    )  # fmt: skip
    fresh = start(world)
    old = progress(world, stalled["job_id"])
    assert old["status"] == "failed" and fresh["job_id"] in old["error"]
    world.jobs.drain(fresh["job_id"])
    assert progress(world, fresh["job_id"])["status"] == "done"
    assert len(shuffle_events(world, fresh["job_id"])) == 5


# --- completion and shuffle (R-TASK-4) -------------------------------------------------------------


def test_r_task_4_a_former_assignee_cannot_complete_a_task_lost_to_a_shuffle(shuffle_world, monkeypatch):
    world = shuffle_world
    first, second = world.popug(["worker"]), world.popug(["worker"])
    monkeypatch.setattr(world.api, "rng", Pick(first))
    task = world.create(world.who(first))
    monkeypatch.setattr(world.job, "rng", Pick(second))
    world.jobs.drain(start(world)["job_id"])
    path = f"/tasks/{task['task_id']}/complete"
    status, body = world.request("POST", path, who=world.who(first))
    assert (status, body["error"]["code"]) == (409, "not_assignee")
    assert world.request("GET", f"/tasks/{task['task_id']}", who=world.who(first))[0] == 403
    assert world.request("POST", path, who=world.who(second))[0] == 200


def test_r_task_4_completions_racing_a_shuffle_never_end_reassigned(shuffle_world):
    world = shuffle_world
    world.chunk(11)  # one small transaction a step: many steps to interleave with
    pool = [world.popug(["worker"]) for _ in range(4)]
    seeded = world.seed_open_tasks(100, pool)
    held = defaultdict(list)
    for index, task_id in enumerate(seeded):
        held[pool[index % len(pool)]].append(task_id)

    api_lock = threading.Lock()  # powertools' resolver keeps the current request on the app object
    outcomes: dict[str, tuple[str, int, str]] = {}
    job = start(world)
    go = threading.Barrier(len(pool) + 1)

    def complete_all(worker: str) -> None:
        go.wait()
        for task_id in held[worker]:
            with api_lock:
                status, body = world.request("POST", f"/tasks/{task_id}/complete", who=world.who(worker))
            outcomes[task_id] = (worker, status, body.get("error", {}).get("code", ""))

    def run_job() -> None:
        go.wait()
        world.jobs.drain(job["job_id"])

    threads = [threading.Thread(target=complete_all, args=(w,)) for w in pool] + [threading.Thread(target=run_job)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    world.jobs.drain(job["job_id"])  # whatever the job still had to do after the last completion

    assert set(outcomes) == set(seeded)
    assert {(status, code) for _, status, code in outcomes.values()} <= {(200, ""), (409, "not_assignee")}
    finished = progress(world, job["job_id"])
    assert finished["status"] == "done" and finished["done"] + finished["skipped"] == finished["total"] == 100

    tasks_now = {t["task_id"]: t for t in world.items("TASK#") if t["sk"] == "TASK"}  # not their history
    shuffled = defaultdict(list)
    for event in shuffle_events(world, job["job_id"]):
        shuffled[event["data"]["task_id"]].append(event["data"]["assignee_id"])
    completed = {e["data"]["task_id"]: e["data"]["assignee_id"] for e in world.events("TaskCompleted")}
    for task_id, (worker, status, _) in outcomes.items():
        task = tasks_now[task_id]
        assert len(shuffled[task_id]) <= 1
        if status == 200:  # done by its holder: if the shuffle got there first, it gave it back to them
            assert task["status"] == "done" and completed[task_id] == worker == task["assignee_id"]
            assert shuffled[task_id] in ([], [worker])
        else:  # lost to the shuffle before the completion committed: still open, now someone else's
            assert task["status"] == "open" and task_id not in completed
            assert shuffled[task_id] == [task["assignee_id"]] and task["assignee_id"] != worker
    assert all(len(shuffled[t]) == 1 for t, task in tasks_now.items() if task["status"] == "open")
    assert finished["skipped"] == sum(1 for t in seeded if t in completed and not shuffled[t])


def test_the_template_filters_feed_the_job_only_running_job_records_and_the_relay_only_outbox_items(shuffle_world):
    """The job and relay event sources of template.yaml, read from the table's real stream."""
    world = shuffle_world
    world.chunk(3)
    world.seed_open_tasks(5, [world.popug(["worker"])])
    job_stream = StreamPoller(world, "TasksShuffleJobFunctionJobProgress", world.job.lambda_handler)
    job = start(world, count=False)
    job_stream.read()
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in job_stream.backlog] == [
        ("INSERT", f"JOB#{job['job_id']}")
    ]  # not the tasks, not the lock
    # the INSERT (the count), step 1's record (tasks 1-3), then step 2's progress (tasks 4-5, finished)
    assert job_stream.drain() == 3
    assert progress(world, job["job_id"])["status"] == "done"
    assert job_stream.drain() == 0  # the finished job's record is filtered out

    relay_stream = StreamPoller(world, "TasksOutboxRelayFunctionOutbox", world.relay.handler)
    relay_stream.read()
    assert len(relay_stream.backlog) == 2 and all(r["eventName"] == "INSERT" for r in relay_stream.backlog)
    assert all(r["dynamodb"]["Keys"]["pk"]["S"].startswith("OUTBOX#") for r in relay_stream.backlog)
    assert relay_stream.drain() == 1 and relay_stream.failures == 0


# --- cost ------------------------------------------------------------------------------------------


class CallCounter:
    """Counts AWS API calls (botocore `before-call`) made inside the handlers it wraps, by operation; the
    test harness's own calls (seeding, reading the stream's stand-ins) are not counted."""

    def __init__(self) -> None:
        self.active = False
        self.calls: Counter[str] = Counter()

    def __call__(self, model, **_: Any) -> None:
        if self.active:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def wrap(self, handler):
        def counted(*args, **kwargs):
            self.active = True
            try:
                return handler(*args, **kwargs)
            finally:
                self.active = False

        return counted


def test_r_task_3_a_shuffle_costs_at_most_0_145_aws_calls_per_task(shuffle_world, monkeypatch):
    """Every AWS call of the press, of every job step and of every relay invocation, for 2,000 tasks.
    The floor is PutEvents' 10 entries a call (0.1 a task). Each task's history entry for its page (R-UI-4)
    is a second action in the reassigning transaction: with 25 actions a transaction that was 12 tasks and
    0.19 calls a task; DynamoDB's (and moto's) 100 actions hold 49 tasks."""
    world = shuffle_world
    world.chunk(980)  # the template's default
    pool = [world.popug(["worker"]) for _ in range(20)]
    count = 2000
    world.seed_open_tasks(count, pool)
    counter = CallCounter()
    monkeypatch.setattr(world.api, "lambda_handler", counter.wrap(world.api.lambda_handler))  # the press
    world.jobs.handler = counter.wrap(world.jobs.handler)  # every step
    world.relay.handler = counter.wrap(world.relay.handler)  # every relay invocation
    hooked = [client("dynamodb"), client("events")]
    for service in hooked:
        service.meta.events.register("before-call", counter)
    try:
        job = start(world)
        steps = world.jobs.drain(job["job_id"])
        relays = world.relay.drain()
    finally:
        for service in hooked:
            service.meta.events.unregister("before-call", counter)

    finished = progress(world, job["job_id"])
    assert (finished["status"], finished["done"]) == ("done", count)
    total = sum(counter.calls.values())
    per_task = total / count
    print(f"\nshuffle of {count} tasks: {total} AWS calls = {per_task:.4f} per task "
          f"({steps} job invocations, {relays} relay invocations): {dict(counter.calls)}")  # fmt: skip
    assert counter.calls["events.PutEvents"] <= count // 10 + relays  # 10 entries a call (a relay's last: fewer)
    assert counter.calls["dynamodb.TransactWriteItems"] <= count // 49 + steps + 1  # 49 tasks (and their history)
    assert per_task <= 0.145, dict(counter.calls)
