"""From a task's creation to its fee in the assignee's ledger, over HTTP through devstack (R-ACC-3):
`POST /api/tasks` as the admin while exactly one worker exists (so every task goes to that worker), then
`GET /api/accounting/accounts/{worker}/transactions?limit=5` every ~50 ms until a fee for that task is
there. The path is the tasks outbox -> relay -> bus -> accounting's queue -> its consumer -> the ledger.
p50, p99 and max of N sequential tasks (the first task, and its cold starts, is a warm-up).

    python -m bench.fee_latency [TASKS]     # or ATES_BENCH_FEE_TASKS=20 python -m bench bench.fee_latency

Keep devstack's logs with ATES_BENCH_DIR=DIR.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

from devstack.launcher import start_devstack
from tests.e2e.popugs import Client, onboard

TASKS = 200
POLL_SECONDS = 0.05
FEE_TIMEOUT = 60.0  # per task; the warm-up (cold starts, the pool learning of the worker) gets twice that


def tasks_default() -> int:
    return int(os.environ.get("ATES_BENCH_FEE_TASKS") or TASKS)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def create_task(admin: Client, title: str, timeout: float) -> dict:
    """POST /tasks; a 409 no_assignee (the pool has not heard of the worker yet) is retried."""
    deadline = time.monotonic() + timeout
    while True:
        response = admin.call("POST", "/tasks", {"title": title})
        if response.status_code == 201:
            return response.json()
        if response.status_code != 409 or time.monotonic() > deadline:
            raise RuntimeError(f"POST /tasks answered {response.status_code}: {response.text}")
        time.sleep(0.3)


def wait_for_fee(session: requests.Session, ledger_url: str, task_id: str, timeout: float) -> tuple[float, int]:
    """Poll the ledger until a fee for `task_id` is in it; returns when it was seen and how many polls."""
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        response = session.get(ledger_url, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"GET {ledger_url} answered {response.status_code}: {response.text}")
        if any(t["kind"] == "fee" and t["task_id"] == task_id for t in response.json()["items"]):
            return time.perf_counter(), polls
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"no fee for task {task_id} after {timeout:.0f} s ({polls} polls); the ledger: {response.text}"
            )
        time.sleep(POLL_SECONDS)


def run(tasks: int | None = None) -> dict:
    tasks = tasks or tasks_default()
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch))
        try:
            admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
            try:
                worker = onboard(stack, admin, "Kesha")
            except pytest.fail.Exception as error:  # the e2e helpers fail a test; here it is an error
                raise RuntimeError(str(error)) from None
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {admin.token}"
            ledger_url = f"{stack.api_url}/accounting/accounts/{worker.employee_id}/transactions?limit=5"

            warm_started = time.perf_counter()
            task = create_task(admin, "Warm-up task", timeout=2 * FEE_TIMEOUT)
            assert task["assignee_id"] == worker.employee_id, task
            seen, _ = wait_for_fee(session, ledger_url, task["task_id"], 2 * FEE_TIMEOUT)
            warm_up = seen - warm_started

            latencies, creates, polls = [], [], 0
            for n in range(tasks):
                started = time.perf_counter()
                task = create_task(admin, f"Fee latency task {n}", timeout=FEE_TIMEOUT)
                creates.append((time.perf_counter() - started) * 1000)
                assert task["assignee_id"] == worker.employee_id, task
                seen, used = wait_for_fee(session, ledger_url, task["task_id"], FEE_TIMEOUT)
                latencies.append((seen - started) * 1000)
                polls += used
                if (n + 1) % 50 == 0:
                    print(f"  {n + 1} tasks, p50 so far {statistics.median(latencies):.0f} ms", file=sys.stderr)
        finally:
            stack.stop(signal.SIGTERM)
    return {
        "fee_tasks": tasks,
        "fee_latency_p50_ms": round(statistics.median(latencies), 1),
        "fee_latency_p99_ms": round(percentile(latencies, 0.99), 1),
        "fee_latency_max_ms": round(max(latencies), 1),
        "fee_latency_min_ms": round(min(latencies), 1),
        "task_create_p50_ms": round(statistics.median(creates), 1),
        "fee_poll_interval_ms": POLL_SECONDS * 1000,
        "fee_ledger_polls_per_task": round(polls / tasks, 1),
        "fee_warm_up_seconds": round(warm_up, 1),
    }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
