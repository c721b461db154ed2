"""Issue 6's story over HTTP through a devstack of its own: after a day of work and its close, analytics
tells the same story as accounting (R-AN-1..3, R-ACC-6). The dashboard shows the management earnings
accounting reports and the ledgers add up to, the popugs in the red of the close, and the most expensive
task of the day is the highest reward in the ledgers (ties to the earliest completion) with its title.
Compacting the day into Parquet (R-AN-2) changes none of the figures. Only admins see analytics, and the
SQL console counts what the ledgers hold and refuses anything but a query."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from tests.conftest import own_devstack
from tests.e2e.popugs import Client, eventually, onboard


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from own_devstack(tmp_path_factory, "analytics")


def pages(client: Client, path: str) -> list[dict]:
    items, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        response = client.call("GET", f"{path}{separator}limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items


def all_ledgers(admin: Client) -> dict[str, list[dict]]:
    """Every account's transactions (admins included, whoever holds one)."""
    accounts = [a["employee_id"] for a in pages(admin, "/accounting/accounts")]
    return {a: pages(admin, f"/accounting/accounts/{a}/transactions") for a in accounts}


def agrees(fetch: Callable[[], Any], expected: Any, what: str, timeout: float = 90) -> Any:
    """Wait (bounded) until `fetch()` equals `expected`; on timeout, fail showing both."""
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = fetch()
        if seen == expected:
            return seen
        time.sleep(0.5)
    pytest.fail(f"after {timeout} s {what} still disagrees:\n  analytics: {seen}\n  expected:  {expected}")


def get(client: Client, path: str) -> dict:
    response = client.call("GET", path)
    assert response.status_code == 200, (path, response.text)
    return response.json()


def sql(client: Client, text: str) -> requests.Response:
    return client.call("POST", "/analytics/query", {"sql": text})


def test_analytics_agrees_with_accounting_before_and_after_compaction(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    kesha = onboard(stack, admin, "Kesha")
    created: dict[str, dict] = {}  # task id -> the task as created

    def create(title: str, jira_id: str | None = None) -> str | None:
        response = admin.call("POST", "/tasks", {"title": title, **({"jira_id": jira_id} if jira_id else {})})
        if response.status_code != 201:
            return None
        created[response.json()["task_id"]] = response.json()
        return response.json()["assignee_id"]

    eventually(lambda: create("Sort the seeds", "POPUG-1"), "Kesha in the pool")
    for i in range(2, 5):
        create(f"Polish the beak {i}", f"POPUG-{i}")
    rio = onboard(stack, admin, "Rio")
    eventually(lambda: create("Count the feathers") == rio.employee_id, "Rio in the pool", timeout=45)
    for i in range(2):
        create(f"Water the millet {i}")
    popugs = {kesha.employee_id: kesha, rio.employee_id: rio}

    started = admin.call("POST", "/tasks/shuffle")
    assert started.status_code == 202, started.text
    job = started.json()["job_id"]
    eventually(lambda: admin.call("GET", f"/tasks/shuffles/{job}").json()["status"] == "done", "the shuffle")
    assignee = {t: get(admin, f"/tasks/{t}")["assignee_id"] for t in created}
    completed = list(created)[:5]  # two tasks stay open
    for task_id in completed:
        done = popugs[assignee[task_id]].call("POST", f"/tasks/{task_id}/complete")
        assert done.status_code == 200, done.text
    fees_expected = 2 * len(created)  # one fee on creation, one on the shuffle

    def kinds(books: dict[str, list[dict]], *wanted: str) -> list[dict]:
        return [t for txs in books.values() for t in txs if t["kind"] in wanted]

    def books_complete() -> dict | None:
        books = all_ledgers(admin)
        fees, rewards = kinds(books, "fee"), kinds(books, "reward")
        return books if len(fees) >= fees_expected and len(rewards) >= len(completed) else None

    eventually(books_complete, "every fee and reward in the ledgers", timeout=60)

    # The day's close.
    today = datetime.now(UTC).date().isoformat()  # devstack runs the business day in UTC
    started = admin.call("POST", f"/accounting/days/{today}/close")
    assert started.status_code == 202, started.text
    day = eventually(lambda: (d := get(admin, f"/accounting/days/{today}"))["status"] == "closed" and d,
                     "the day to close", timeout=90)  # fmt: skip

    # What accounting says, from its stats and from its ledgers.
    books = all_ledgers(admin)
    worked = [t for t in kinds(books, "fee", "reward") if t["business_day"] == today]
    fees, rewards = [t for t in worked if t["kind"] == "fee"], [t for t in worked if t["kind"] == "reward"]
    assert (len(fees), len(rewards)) == (fees_expected, len(completed))
    assert {t["task_id"] for t in rewards} == set(completed)
    earnings = -sum(t["amount"] for t in worked)
    stats = get(admin, f"/accounting/stats?from={today}&to={today}")["items"][0]
    assert stats["management_earnings"] == earnings, (stats, earnings)
    payouts = [t for t in kinds(books, "payout") if t["business_day"] == today]
    assert (day["popugs_paid"], day["total_paid"]) == (len(payouts), -sum(t["amount"] for t in payouts))
    top = min(rewards, key=lambda t: (-t["amount"], t["recorded_at"], t["transaction_id"]))
    task = created[top["task_id"]]
    expected_top = {"task_id": top["task_id"], "title": task["title"], "jira_id": task["jira_id"],
                    "reward": top["amount"]}  # fmt: skip
    expected_dashboard = {"date": today, "management_earnings": earnings, "popugs_in_red": day["popugs_in_red"],
                          "closed": True}  # fmt: skip
    expected_daily = {
        "date": today, "management_earnings": earnings, "fees": -sum(t["amount"] for t in fees),
        "rewards": sum(t["amount"] for t in rewards), "payouts": day["total_paid"],
        "tasks_completed": len(completed), "closed": True, "popugs_paid": day["popugs_paid"],
        "popugs_in_red": day["popugs_in_red"],
    }  # fmt: skip
    fee_count = [[len(fees)]]

    def analytics_agrees(source: str, timeout: float) -> None:
        agrees(lambda: get(admin, f"/analytics/dashboard?date={today}"), expected_dashboard,
               f"the dashboard ({source})", timeout)  # fmt: skip
        best = agrees(lambda: get(admin, f"/analytics/most-expensive-task?period=day&date={today}")["task"],
                      expected_top, f"the most expensive task of the day ({source})", timeout)  # fmt: skip
        answer = get(admin, f"/analytics/most-expensive-task?period=day&date={today}")
        assert (answer["period"], answer["from"], answer["to"]) == ("day", today, today)
        assert answer["series"] == [{"date": today, "task": best}]
        for period in ("week", "month"):  # nothing happened on the other days of the week or month
            assert get(admin, f"/analytics/most-expensive-task?period={period}&date={today}")["task"] == best
        daily = get(admin, f"/analytics/daily?from={today}&to={today}")
        assert daily["items"] == [expected_daily], f"daily ({source})"
        counted = sql(admin, "SELECT count(*) FROM transactions WHERE kind = 'fee'")
        assert counted.status_code == 200, counted.text
        assert counted.json()["rows"] == fee_count, f"console fee count ({source})"

    analytics_agrees("raw events", timeout=90)

    # Compact the day now (the nightly job waits until the close is 10 minutes old and the UTC day over).
    def compact() -> dict | None:
        response = requests.post(f"{stack.url}/_devstack/invoke/AnalyticsCompactionFunction",
                                 json={"day": today}, timeout=300)  # fmt: skip
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        return result if result["compacted"] else None

    compacted = eventually(compact, "the compaction of the day", timeout=60)
    assert compacted["watermark"] == today and compacted["compacted"][0]["day"] == today, compacted
    assert compacted["compacted"][0]["rows"]["transactions"] == len(fees) + len(rewards) + len(payouts)

    environment = requests.get(f"{stack.url}/_devstack/functions/AnalyticsCompactionFunction/environment",
                               timeout=30).json()["environment"]  # fmt: skip
    s3 = boto3.client("s3", endpoint_url=stack.endpoint_url, region_name="us-east-1", aws_access_key_id="t",
                      aws_secret_access_key="t")  # fmt: skip
    listed = s3.list_objects_v2(Bucket=environment["LAKE_BUCKET"], Prefix="curated/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    for table in ("transactions", "tasks", "closed_days"):
        assert f"curated/{table}/day={today}/part-0.parquet" in keys, sorted(keys)
    watermark = s3.get_object(Bucket=environment["LAKE_BUCKET"], Key="state/compaction.json")["Body"].read()
    assert today in watermark.decode()

    analytics_agrees("Parquet", timeout=10)


def test_analytics_is_for_admins_and_the_console_only_reads(stack):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    worker = onboard(stack, admin, "Zazu")
    for path in ("/analytics/dashboard", "/analytics/most-expensive-task?period=day", "/analytics/daily"):
        response = worker.call("GET", path)
        assert response.status_code == 403, (path, response.text)
    assert sql(worker, "SELECT 1").status_code == 403

    refused = sql(admin, "DROP TABLE transactions")
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "query_refused"
    still = sql(admin, "SELECT count(*) FROM transactions")
    assert still.status_code == 200 and still.json()["rows"][0][0] > 0, still.text
