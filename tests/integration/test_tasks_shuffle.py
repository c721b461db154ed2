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
from tests.integration.test_tasks_handlers import Pick, TasksWorld, tasks  # noqa: F401 - the fixture

MANAGER = {"sub": str(uuid.uuid4()), "roles": "manager", "department_id": "", "active": "true"}


class StreamPoller:
    """Reads a table's stream from TRIM_HORIZON and feeds the records a mapping's filter lets through to
    its handler, in its batch size; a reported failure is delivered again from that record on."""

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


@pytest.fixture()
def shuffle_world(tasks, monkeypatch):
    from shared.events import relay

    def chunk(size: int) -> None:
        monkeypatch.setenv("SHUFFLE_CHUNK_TASKS", str(size))
        from tasks import settings

        settings.get.cache_clear()

    tasks.job_poller = StreamPoller(tasks, "TasksShuffleJobFunctionJobProgress", tasks.job.lambda_handler)
    tasks.relay_poller = StreamPoller(tasks, "TasksOutboxRelayFunctionOutbox", relay.lambda_handler)
    tasks.chunk = chunk
    return tasks


def start(world: TasksWorld, who=MANAGER) -> dict[str, Any]:
    status, job = world.request("POST", "/tasks/shuffle", who=who)
    assert status == 202, job
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
    world.chunk(95)  # 4 transactions a step: 300 tasks take 4 steps
    pool = [world.popug(["worker"]) for _ in range(4)]
    seeded = world.seed_open_tasks(300, pool)
    done_task = world.create(world.who(pool[0]))  # completed before the shuffle: not touched
    monkeypatch.setattr(world.api, "rng", Pick(pool[1]))
    later = world.create(world.who(pool[0]))  # still open: reassigned too
    world.request("POST", f"/tasks/{done_task['task_id']}/complete", who=world.who(done_task["assignee_id"]))

    job = start(world)
    assert (job["status"], job["total"], job["done"]) == ("running", 301, 0)
    status, body = world.request("POST", "/tasks/shuffle", who=MANAGER)
    assert (status, body["error"]["code"]) == (409, "shuffle_running") and job["job_id"] in body["error"]["message"]

    assert world.job_poller.invoke_once()
    midway = progress(world, job["job_id"])
    assert (midway["status"], midway["done"], midway["total"]) == ("running", 95, 301)
    world.job_poller.drain()
    finished = progress(world, job["job_id"])
    assert (finished["status"], finished["done"], finished["total"], finished["skipped"]) == ("done", 301, 301, 0)
    assert finished["finished_at"] >= finished["started_at"]

    events = shuffle_events(world, job["job_id"])
    assert sorted(e["data"]["task_id"] for e in events) == sorted([*seeded, later["task_id"]])
    assert {e["data"]["assignee_id"] for e in events} <= set(pool)
    assert len({e["data"]["assignee_id"] for e in events}) > 1  # random, not all on one popug
    tasks_now = {t["task_id"]: t for t in world.items("TASK#")}
    assert all(tasks_now[e["data"]["task_id"]]["assignee_id"] == e["data"]["assignee_id"] for e in events)
    assert "shuffled_by" not in tasks_now[done_task["task_id"]]
    assert max(len(item) for item in world.outbox()) == 24  # batched: 24 events per outbox item
    assert start(world)["job_id"] != job["job_id"]  # the lock is free again


def test_r_task_3_a_crashed_step_resumes_without_reassigning_any_task_twice(shuffle_world, monkeypatch):
    world = shuffle_world
    world.chunk(95)
    pool = [world.popug(["worker"]) for _ in range(3)]
    seeded = world.seed_open_tasks(200, pool)
    job = start(world)
    assert world.job_poller.invoke_once()  # step 1 commits

    real_commit, commits = world.job._commit, []

    def crash_after_two(*args, **kwargs):
        if len(commits) == 2:
            raise RuntimeError("simulated crash: the function died mid-step")
        commits.append(1)
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(world.job, "_commit", crash_after_two)
    assert world.job_poller.invoke_once()
    assert world.job_poller.failures == 1  # reported for retry, as Lambda would see it
    crashed = progress(world, job["job_id"])
    assert (crashed["status"], crashed["done"]) == ("running", 95)  # progress moves only with a whole step
    assert len(shuffle_events(world, job["job_id"])) == 95 + 48  # two batches of the step committed

    monkeypatch.setattr(world.job, "_commit", real_commit)
    world.job_poller.drain()  # the stream delivers the failed record again, then the rest
    finished = progress(world, job["job_id"])
    assert (finished["status"], finished["done"], finished["total"]) == ("done", 200, 200)
    per_task = Counter(e["data"]["task_id"] for e in shuffle_events(world, job["job_id"]))
    assert sorted(per_task) == sorted(seeded) and set(per_task.values()) == {1}


def test_r_task_3_a_stale_or_duplicate_job_record_changes_nothing(shuffle_world):
    world = shuffle_world
    world.chunk(47)
    pool = [world.popug(["worker"])]
    world.seed_open_tasks(100, pool)
    job = start(world)
    first_records = []
    world.job_poller.read()
    first_records = list(world.job_poller.backlog)
    world.job_poller.drain()
    before = (progress(world, job["job_id"]), len(world.events()))
    for _ in range(2):  # the stream may deliver an old record again
        assert world.job.lambda_handler({"Records": first_records}, LambdaContext()) == {"batchItemFailures": []}
    assert (progress(world, job["job_id"]), len(world.events())) == before


def test_r_task_3_a_job_whose_pool_empties_fails_and_frees_the_lock(shuffle_world):
    world = shuffle_world
    world.chunk(47)
    worker = world.popug(["worker"])
    world.seed_open_tasks(80, [worker])
    job = start(world)
    world.job_poller.invoke_once()
    world.dismiss(worker)
    world.job_poller.drain()
    failed = progress(world, job["job_id"])
    assert (failed["status"], failed["done"]) == ("failed", 47) and "no active assignee" in failed["error"]
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
    world.job_poller.drain()
    assert progress(world, fresh["job_id"])["status"] == "done"
    assert len(shuffle_events(world, fresh["job_id"])) == 5


# --- completion and shuffle (R-TASK-4) -------------------------------------------------------------


def test_r_task_4_a_former_assignee_cannot_complete_a_task_lost_to_a_shuffle(shuffle_world, monkeypatch):
    world = shuffle_world
    first, second = world.popug(["worker"]), world.popug(["worker"])
    monkeypatch.setattr(world.api, "rng", Pick(first))
    task = world.create(world.who(first))
    monkeypatch.setattr(world.job, "rng", Pick(second))
    start(world)
    world.job_poller.drain()
    path = f"/tasks/{task['task_id']}/complete"
    status, body = world.request("POST", path, who=world.who(first))
    assert (status, body["error"]["code"]) == (409, "not_assignee")
    assert world.request("GET", f"/tasks/{task['task_id']}", who=world.who(first))[0] == 403
    assert world.request("POST", path, who=world.who(second))[0] == 200


def test_r_task_4_completions_racing_a_shuffle_never_end_reassigned(shuffle_world):
    world = shuffle_world
    world.chunk(23)  # one transaction a step: many steps to interleave with
    pool = [world.popug(["worker"]) for _ in range(4)]
    seeded = world.seed_open_tasks(160, pool)
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
        world.job_poller.drain()

    threads = [threading.Thread(target=complete_all, args=(w,)) for w in pool] + [threading.Thread(target=run_job)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    world.job_poller.drain()  # whatever the job still had to do after the last completion

    assert set(outcomes) == set(seeded)
    assert {(status, code) for _, status, code in outcomes.values()} <= {(200, ""), (409, "not_assignee")}
    finished = progress(world, job["job_id"])
    assert finished["status"] == "done" and finished["done"] + finished["skipped"] == finished["total"] == 160

    tasks_now = {t["task_id"]: t for t in world.items("TASK#")}
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


# --- cost ------------------------------------------------------------------------------------------


class CallCounter:
    """Counts AWS API calls (botocore `before-call`) made while `active`, by service and operation."""

    def __init__(self) -> None:
        self.active = False
        self.calls: Counter[str] = Counter()

    def __call__(self, model, **_: Any) -> None:
        if self.active:
            self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def during(self, action):
        self.active = True
        try:
            return action()
        finally:
            self.active = False


def test_r_task_3_a_shuffle_costs_at_most_0_15_aws_calls_per_task(shuffle_world, monkeypatch):
    world = shuffle_world
    world.chunk(959)  # the template's default
    pool = [world.popug(["worker"]) for _ in range(20)]
    count = 2000
    world.seed_open_tasks(count, pool)
    world.relay_poller.drain()  # the pool's and seeds' events are not the shuffle's: publish them first
    counter = CallCounter()
    hooked = [client("dynamodb"), client("events")]
    for service in hooked:
        service.meta.events.register("before-call", counter)
    try:
        job = counter.during(lambda: start(world))
        invocations = counter.during(world.job_poller.drain)
        relays = counter.during(world.relay_poller.drain)
    finally:
        for service in hooked:
            service.meta.events.unregister("before-call", counter)

    assert progress(world, job["job_id"])["done"] == count
    total = sum(counter.calls.values())
    per_task = total / count
    print(f"\nshuffle of {count} tasks: {total} AWS calls = {per_task:.4f} per task "
          f"({invocations} job invocations, {relays} relay invocations): {dict(counter.calls)}")  # fmt: skip
    assert counter.calls["events.PutEvents"] == count // 10
    assert per_task <= 0.15, dict(counter.calls)
