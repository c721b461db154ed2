"""The close of a business day for 10,000 popugs through devstack (R-ACC-5): AWS calls per popug,
counted by the emulator across every process (the press, every job step, the payout mailer, the outbox
relay), and wall time from the press until the day is closed and every payout email is sent.

    python -m bench.day_close [POPUGS]      # or ATES_BENCH_CLOSE_POPUGS=500 python -m bench bench.day_close

The accounts and today's transactions are seeded straight into devstack's accounting table (10,000
popugs through the API would measure hiring and task creation, not the close), built by the functions'
own store code so the layout is the one the close reads; everything after the press is the real system.
Keep devstack's logs with ATES_BENCH_DIR=DIR.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import requests

from devstack.emulator import call_counts
from devstack.launcher import start_devstack

POPUGS = 10_000
IN_RED_SHARE = 0.1  # popugs seeded with fees only: their balance is negative at the close
EMULATOR_CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "devstack", "aws_secret_access_key": "x"}
POLL_SECONDS = 2.0
TARGET_CALLS_PER_POPUG = 0.5
# What the close's own code calls; the emulator also serves devstack's pollers (streams, SQS) and its
# TTL sweeper (Scan), which are AWS's machinery or local-only, not calls of our functions. SES v1 and S3
# have no X-Amz-Target: the emulator counts both as "other". The close's SES calls are one per MAIL item
# (counted in the table afterwards); the rest of "other" is analytics landing each event the close
# publishes in its lake (one S3 PutObject per event, R-AN-1): downstream, reported apart.
SES_CALLS = "SES.SendBulkTemplatedEmail (one per MAIL item)"
COUNTED = ("DynamoDB_20120810.", "AWSEvents.PutEvents", "other")
NOT_COUNTED = ("DynamoDB_20120810.Scan", "DynamoDB_20120810.DescribeTable")


def popugs_default() -> int:
    return int(os.environ.get("ATES_BENCH_CLOSE_POPUGS") or POPUGS)


def counted_calls(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        op: after[op] - before.get(op, 0)
        for op in sorted(after)
        if op.startswith(COUNTED) and not op.startswith(NOT_COUNTED) and after[op] > before.get(op, 0)
    }


def seed(endpoint_url: str, table: str, count: int, today: date) -> dict[str, int]:
    """`count` accounts, each with a name, an email and 1-3 of today's fees and rewards; and the calendar
    (first day = next open day = today). Returns what the close should find: how many to pay, in the red."""
    os.environ.update(AWS_ENDPOINT_URL=endpoint_url, ACCOUNTING_TABLE_NAME=table, AWS_DEFAULT_REGION="us-east-1")
    from accounting import domain, store
    from accounting.settings import get as accounting_settings

    accounting_settings.cache_clear()  # the table name is this devstack's
    rng = random.Random(5)
    calendar = domain.Calendar(first_day=today, next_open=today)
    recorded_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    when = {"business_day": today, "calendar": calendar, "recorded_at": recorded_at}
    items: list[dict[str, Any]] = []
    stats: dict[tuple[str, str], dict[str, int]] = {}
    expected = {"positive": 0, "negative": 0, "zero": 0, "transactions": 0, "owed": 0}
    for n in range(count):
        employee_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        account = domain.Account(employee_id, name=f"Popug {n:05d}", email=f"popug-{n:05d}@uberpopug.example",
                                 staff_version=1)  # fmt: skip
        if rng.random() < IN_RED_SHARE:
            kinds = ["fee"] * rng.randint(1, 3)
        else:
            kinds = rng.choice([["reward"], ["fee", "reward"], ["reward", "fee", "reward"]])
        for kind in kinds:
            number = expected["transactions"] = expected["transactions"] + 1
            task = domain.TaskInfo(task_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                                   price=domain.price_task(rng), title=f"Seeded task {number}",
                                   jira_id=f"UBERPOP-{number}")  # fmt: skip
            if kind == "fee":
                account, tx = domain.fee(account, task, "creation", str(uuid.uuid4()), **when)
            else:
                account, tx = domain.reward(account, task, **when)
            ledger_put, *stats_updates = store.transaction_actions(tx)
            items.append(ledger_put["Put"]["Item"])
            for update in stats_updates:  # ADD <fees|rewards> :<fees|rewards>, transactions :n -> summed here
                key = update["Update"]["Key"]
                values = update["Update"]["ExpressionAttributeValues"]
                sums = stats.setdefault((key["pk"]["S"], key["sk"]["S"]), {})
                for field in ("fees", "rewards"):
                    if f":{field}" in values:
                        sums[field] = sums.get(field, 0) + int(values[f":{field}"]["N"])
                sums["transactions"] = sums.get("transactions", 0) + int(values[":n"]["N"])
        items.append(store.account_action(store.Versioned(domain.Account(employee_id), None), account)["Put"]["Item"])
        balance = account.end_of_day(today)
        expected["positive" if balance > 0 else "negative" if balance < 0 else "zero"] += 1
        expected["owed"] += max(balance, 0)
    from shared.dynamo import to_item

    items += [to_item({"pk": pk, "sk": sk, **sums}) for (pk, sk), sums in stats.items()]
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, **EMULATOR_CREDENTIALS)
    day = today.isoformat()
    calendar_item = {"pk": store.CALENDAR_KEY[0], "sk": store.CALENDAR_KEY[1], "first_day": day, "next_open": day,
                     "retained_from": day}  # fmt: skip
    dynamodb.put_item(TableName=table, Item=to_item(calendar_item))

    def write(batch: list[dict]) -> None:
        request: dict | None = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while request:
            request = dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or None

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))
    return expected


def catch_up(endpoint_url: str, table: str, log_dir: Path, timeout: float, keep_awake: Callable[[], Any]) -> float:
    """Wait until the stream pollers have read past the seed (in AWS the seed would have been written
    over a day; here ~3 records per popug sit in the stream ahead of the close's first record, which each
    mapping reads past before it sees the close's first record). The sign: the
    payout mailer is invoked for a MAIL item written after the seed (one without destinations, which
    it skips without a call). `keep_awake` invokes a function every few seconds: devstack's stream pollers
    slow to one read per 2 s after 15 s without any invocation. Returns the seconds waited."""
    log = log_dir / "AccountingPayoutMailerFunction.log"

    def invocations() -> int:
        return log.read_text().count("START RequestId") if log.exists() else 0

    seen = invocations()
    started = time.monotonic()
    sentinel = {"pk": {"S": f"MAIL#bench-sentinel#{uuid.uuid4()}"}, "sk": {"S": "MAIL"}}
    boto3.client("dynamodb", endpoint_url=endpoint_url, **EMULATOR_CREDENTIALS).put_item(TableName=table,
                                                                                         Item=sentinel)  # fmt: skip
    while invocations() <= seen:
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the stream pollers did not reach the end of the seed in {timeout:.0f} s")
        keep_awake()
        time.sleep(5.0)
    return time.monotonic() - started


def settle(endpoint_url: str, quiet_seconds: float = 10.0, limit: float = 300.0) -> dict[str, int]:
    """Call counts once the counted ones stop moving (the outbox relay may still be publishing, analytics
    still landing events after a timed-out batch)."""
    deadline = time.monotonic() + limit
    last = call_counts(endpoint_url)
    while time.monotonic() < deadline:
        time.sleep(quiet_seconds)
        now = call_counts(endpoint_url)
        if not counted_calls(last, now):
            return now
        last = now
    return last


def run(popugs: int | None = None) -> dict:
    popugs = popugs or popugs_default()
    with tempfile.TemporaryDirectory() as scratch:
        stack = start_devstack(Path(os.environ.get("ATES_BENCH_DIR") or scratch))
        try:
            names = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, **EMULATOR_CREDENTIALS).list_tables()[
                "TableNames"
            ]
            table = next(name for name in names if "AccountingTable" in name)
            today = datetime.now(UTC).date()  # the business timezone is devstack's default, UTC
            started = time.perf_counter()
            expected = seed(stack.endpoint_url, table, popugs, today)
            seeded_in = time.perf_counter() - started
            print(f"  seeded {popugs} popugs in {seeded_in:.1f} s: {expected}", file=sys.stderr, flush=True)

            session = requests.Session()
            admin = {"email": stack.admin_email, "password": stack.admin_password}
            token = session.post(f"{stack.api_url}/auth/login", json=admin, timeout=60).json()
            session.headers["Authorization"] = f"Bearer {token['access_token']}"
            day_url = f"{stack.api_url}/accounting/days/{today.isoformat()}"
            log_dir = Path(stack.state["log_dir"])
            caught_up_in = catch_up(stack.endpoint_url, table, log_dir, max(600.0, popugs * 0.5),
                                    lambda: session.get(day_url, timeout=60))  # fmt: skip
            print(f"  the stream pollers read past the seed in {caught_up_in:.1f} s", file=sys.stderr, flush=True)
            before = settle(stack.endpoint_url, quiet_seconds=2.0)
            started = time.perf_counter()
            press = session.post(f"{day_url}/close", timeout=60)
            assert press.status_code == 202, f"{press.status_code} {press.text}"
            polls, closed_in, status, poll_errors = 0, None, press.json(), []  # polls: the answered ones
            deadline = time.monotonic() + max(600.0, popugs * 0.6)
            while True:
                time.sleep(POLL_SECONDS)
                response = session.get(day_url, timeout=60)
                if response.status_code != 200:  # a progress page would just ask again; reported below
                    poll_errors.append(f"{time.perf_counter() - started:.0f} s: {response.status_code} {response.text}")
                    print(f"  poll failed: {poll_errors[-1]}", file=sys.stderr, flush=True)
                else:
                    polls += 1
                    status = response.json()
                    if polls % 15 == 0:
                        print(f"  {time.perf_counter() - started:.0f} s: {status}", file=sys.stderr, flush=True)
                if status["status"] == "closed" and closed_in is None:
                    closed_in = time.perf_counter() - started
                if status["status"] == "closed" and status["emails_sent"] == status["emails_queued"]:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the close did not finish in time; last status after {polls} polls: {status}")
            wall = time.perf_counter() - started
            after = settle(stack.endpoint_url)
            # The status polls (authorizer + the day's read) are the bench's calls, not the close's: what
            # one poll costs, per operation (the least of three, so nothing else running counts), times the
            # polls answered (a failed one made some of those calls, or none: up to 3 calls each unknown).
            per_poll: dict[str, int] = {}
            for attempt in range(3):
                ahead = call_counts(stack.endpoint_url)
                session.get(day_url, timeout=60)
                one = counted_calls(ahead, call_counts(stack.endpoint_url))
                per_poll = one if attempt == 0 else {op: min(n, one.get(op, 0)) for op, n in per_poll.items()}
            mails = len([m for m in _sent(stack.endpoint_url) if m.get("kind") == "templated"])
            mail_items = count_mail_items(stack.endpoint_url, table, today)
        finally:
            stack.stop(signal.SIGTERM)
    calls = counted_calls(before, after)
    calls = {op: n - per_poll.get(op, 0) * polls for op, n in calls.items() if n - per_poll.get(op, 0) * polls}
    other = calls.pop("other", 0)
    if other:
        calls[SES_CALLS] = min(mail_items, other)
    downstream = other - calls.get(SES_CALLS, 0)
    total = sum(calls.values())
    accounts = status.get("total") or popugs
    return {
        "close_popugs_seeded": popugs,
        "close_accounts_walked": status.get("total"),
        "close_status": status["status"],
        "close_aws_calls": total,
        "close_aws_calls_per_popug": round(total / accounts, 4),
        "close_aws_calls_per_popug_target_max": TARGET_CALLS_PER_POPUG,
        "close_calls_by_operation": calls,
        "close_calls_per_popug_by_operation": {op: round(n / accounts, 4) for op, n in calls.items()},
        "downstream_other_calls_not_counted_above": downstream,
        "close_aws_calls_per_popug_with_downstream": round((total + downstream) / accounts, 4),
        "close_wall_seconds_to_closed": round(closed_in or wall, 1),
        "close_wall_seconds_to_emails_sent": round(wall, 1),
        "close_popugs_paid": status.get("popugs_paid"),
        "close_popugs_paid_expected": expected["positive"],
        "close_total_paid": status.get("total_paid"),
        "close_total_paid_expected": expected["owed"],
        "close_popugs_in_red": status.get("popugs_in_red"),
        "close_popugs_in_red_expected": expected["negative"],
        "close_emails_queued": status.get("emails_queued"),
        "close_emails_sent": status.get("emails_sent"),
        "close_emails_in_ses": mails,
        "close_status_polls": polls,
        "close_status_poll_errors": poll_errors,
        "close_calls_per_status_poll": per_poll,
        "seed_transactions": expected["transactions"],
        "seed_seconds": round(seeded_in, 1),
        "seed_stream_catch_up_seconds": round(caught_up_in, 1),
    }


def count_mail_items(endpoint_url: str, table: str, day: date) -> int:
    """The day's MAIL items (each one bulk SES send); a Scan, which the figures do not count."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url, **EMULATOR_CREDENTIALS)
    params: dict[str, Any] = {"TableName": table, "Select": "COUNT", "FilterExpression": "begins_with(pk, :p)",
                              "ExpressionAttributeValues": {":p": {"S": f"MAIL#{day.isoformat()}#"}}}  # fmt: skip
    count = 0
    while True:
        page = dynamodb.scan(**params)
        count += page.get("Count", 0)
        if not page.get("LastEvaluatedKey"):
            return count
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _sent(endpoint_url: str) -> list[dict]:
    from devstack.emulator import sent_emails

    try:
        return sent_emails(endpoint_url, timeout=60)
    except Exception:  # a figure for the report only
        return []


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else None), indent=2))
