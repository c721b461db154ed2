"""A shuffle of 10,000 open tasks through devstack (R-TASK-3): AWS calls per task, counted by the
emulator per calling function (the press, every job step, every relay invocation; what other contexts
do with the events, booking each new fee, is reported apart), and wall time from the press to `done`.

The tasks and the assignee pool are seeded straight into devstack's table (10,000 tasks through the
API would measure creation, not the shuffle); everything after the press is the real system.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import requests

from devstack.emulator import call_counts_by_caller
from devstack.launcher import start_devstack

TASKS = 10_000
EMULATOR_CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "devstack", "aws_secret_access_key": "x"}
WORKERS = 50
# What the shuffle's own code calls; the emulator also serves devstack's pollers (streams, SQS) and
# its TTL sweeper (Scan), which are AWS's machinery or local-only, not calls of our functions.
COUNTED = ("DynamoDB_20120810.", "AWSEvents.PutEvents")
NOT_COUNTED = ("DynamoDB_20120810.Scan", "DynamoDB_20120810.DescribeTable")
# The shuffle's own functions: the press, its job, the relay that publishes the reassignments.
SHUFFLE_FUNCTIONS = ("TasksApiFunction", "TasksShuffleJobFunction", "TasksOutboxRelayFunction")


def shuffle_calls(
    before: dict[str, dict[str, int]], after: dict[str, dict[str, int]], *, own: bool = True
) -> dict[str, int]:
    """Calls per operation between two readings, of the shuffle's own functions (or of every other one)."""
    calls: dict[str, int] = {}
    for caller, operations in after.items():
        if (caller in SHUFFLE_FUNCTIONS) != own or caller == "devstack":
            continue
        for op, count in operations.items():
            grown = count - before.get(caller, {}).get(op, 0)
            if op.startswith(COUNTED) and not op.startswith(NOT_COUNTED) and grown > 0:
                calls[op] = calls.get(op, 0) + grown
    return calls


def seed(endpoint_url: str, table: str, count: int) -> None:
    os.environ.update(AWS_ENDPOINT_URL=endpoint_url, TASKS_TABLE_NAME=table, AWS_DEFAULT_REGION="us-east-1")
    from tasks import store
    from tasks.domain import Task

    workers = [str(uuid.uuid4()) for _ in range(WORKERS)]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, **EMULATOR_CREDENTIALS)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": store.POOL_KEY[0]}, "sk": {"S": store.POOL_KEY[1]},
                                             "ids": {"SS": workers}})  # fmt: skip
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))
    from shared.dynamo import to_item

    items = [
        to_item(store.task_item(Task(
            task_id=str(uuid.uuid4()), title=f"Seeded task {i}", jira_id=None, description="", due_date=None,
            status="open", assignee_id=workers[i % WORKERS], created_by=workers[0], created_at=now, assigned_at=now,
        )))
        for i in range(count)
    ]  # fmt: skip

    def write(batch: list[dict]) -> None:
        requests_ = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while requests_:
            requests_ = dynamodb.batch_write_item(RequestItems=requests_).get("UnprocessedItems") or None

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))


def run(tasks: int = TASKS) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch))
        try:
            names = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, **EMULATOR_CREDENTIALS).list_tables()[
                "TableNames"
            ]
            table = next(name for name in names if name.endswith("TasksTable"))
            started = time.perf_counter()
            seed(stack.endpoint_url, table, tasks)
            seeded_in = time.perf_counter() - started

            token = requests.post(
                f"{stack.api_url}/auth/login",
                timeout=60,
                json={"email": stack.admin_email, "password": stack.admin_password},
            ).json()
            headers = {"Authorization": f"Bearer {token['access_token']}"}
            before = call_counts_by_caller(stack.endpoint_url)
            started = time.perf_counter()
            press = requests.post(f"{stack.api_url}/tasks/shuffle", headers=headers, timeout=60)
            assert press.status_code == 202, press.text
            job_id = press.json()["job_id"]
            polls = 0
            while True:
                time.sleep(1.0)
                polls += 1
                status = requests.get(f"{stack.api_url}/tasks/shuffles/{job_id}", headers=headers, timeout=60).json()
                if status["status"] != "running":
                    break
            wall = time.perf_counter() - started
            after = call_counts_by_caller(stack.endpoint_url)
            requests.get(f"{stack.api_url}/tasks/shuffles/{job_id}", headers=headers, timeout=60)
            per_poll = sum(shuffle_calls(after, call_counts_by_caller(stack.endpoint_url)).values())
        finally:
            stack.stop(signal.SIGTERM)
    calls = shuffle_calls(before, after)
    downstream = shuffle_calls(before, after, own=False)
    # The status polls (authorizer + job read) are the bench's calls, not the shuffle's.
    total = sum(calls.values()) - per_poll * polls
    return {
        "shuffle_tasks": tasks,
        "shuffle_status": status["status"],
        "shuffle_done": status.get("done"),
        "shuffle_aws_calls": total,
        "shuffle_aws_calls_per_task": round(total / tasks, 4),
        "shuffle_aws_calls_per_task_target_max": 0.15,
        "shuffle_calls_by_operation": calls,
        "downstream_calls_until_done_not_counted_above": downstream,
        "shuffle_wall_seconds_through_devstack": round(wall, 1),
        "seed_seconds": round(seeded_in, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
