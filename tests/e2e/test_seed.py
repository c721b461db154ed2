"""R-LOC-3 over HTTP: `python -m devstack seed` loads a (tiny) company-year into a running devstack, and every
context agrees on it: the ledger audit passes, a seeded popug signs in with the documented password and sees a
balance equal to their ledger, a closed day's accounting statistics and analytics dashboard match the ledger,
and nothing of it went through the streams (no event was published, no payout mail sent)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from devstack.seed.run import PASSWORD
from tests.conftest import own_devstack
from tests.e2e.popugs import Client

POPUGS, DAYS = 20, 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    yield from own_devstack(tmp_path_factory, "seed")


@pytest.fixture(scope="module")
def seeded(stack) -> dict:
    command = [sys.executable, "-m", "devstack", "seed", "--popugs", str(POPUGS), "--days", str(DAYS), "--seed", "7",
               "--state-file", str(stack.state_file)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "seed [" in done.stderr  # progress on stderr
    return json.loads(done.stdout)


def pages(client: Client, path: str) -> list[dict]:
    items, cursor = [], None
    while True:
        response = client.call("GET", path + "?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        cursor = response.json()["next_cursor"]
        if not cursor:
            return items


def test_r_loc_3_seeds_a_company_year_the_audit_accepts(stack, seeded):
    assert seeded["popugs"] == POPUGS and seeded["closed_days"] == DAYS
    assert seeded["transactions"] > 0 and seeded["items"]["accounting"] > seeded["transactions"]
    audit = subprocess.run([sys.executable, "-m", "devstack", "audit-ledger", "--state-file", str(stack.state_file)],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    report = json.loads(audit.stdout)
    assert audit.returncode == 0 and report["ok"], report
    assert report["transactions"] == seeded["transactions"]
    assert report["payouts"] > 0 and report["rewards"] > 0


def lake_bucket(stack) -> tuple[Any, str]:
    """An S3 client on the stack's emulator, and the analytics lake's bucket."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=stack.endpoint_url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")  # fmt: skip
    return s3, next(b["Name"] for b in s3.list_buckets()["Buckets"] if "analyticslake" in b["Name"])


def test_r_loc_3_the_seeded_lakes_raw_partitions_are_packed_as_the_running_stack_packs_them(stack, seeded):
    """One object per raw partition, as analytics/pack.py leaves it, not one per event; every event is in them."""
    from analytics import lake

    s3, bucket = lake_bucket(stack)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=lake.RAW)
    packs = [item["Key"] for page in pages for item in page.get("Contents", []) if lake.is_pack(item["Key"])]
    assert len({key.rsplit("/", 1)[0] for key in packs}) == len(packs) > 0  # (the stack's own events land too)
    lines = sum(s3.get_object(Bucket=bucket, Key=key)["Body"].read().count(b"\n") for key in packs)
    assert lines == seeded["lake"]["raw_events"] > 0


def test_r_loc_3_the_seeded_lakes_compaction_state_is_settled_as_a_finished_run_leaves_it(stack, seeded):
    """With a revision, as a compaction run leaves it when it is done: warm queries list the seeded compacted
    zone once, not at every query until the first nightly run (analytics/lake.py, `Mirror.sync_all`)."""
    from analytics import lake

    s3, bucket = lake_bucket(stack)
    state = json.loads(s3.get_object(Bucket=bucket, Key=lake.STATE_KEY)["Body"].read())
    assert state["compacted_through"] and state["revision"]


def test_r_loc_3_every_seeded_popug_signs_in_and_sees_their_ledger(stack, seeded):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    accounts = [a for a in pages(admin, "/auth/accounts") if a["email"] != stack.admin_email]
    assert len(accounts) == POPUGS
    for account in accounts[:3]:
        popug = Client.signed_in(stack.api_url, account["email"], PASSWORD)
        me = popug.call("GET", "/accounting/me").json()
        ledger = pages(popug, "/accounting/me/transactions")
        assert me["balance"] == me["opening_amount"] + sum(tx["amount"] for tx in ledger)


def test_r_loc_3_a_seeded_days_dashboards_match_the_ledger(stack, seeded):
    admin = Client.signed_in(stack.api_url, stack.admin_email, stack.admin_password)
    day = (date.fromisoformat(seeded["first_day"]) + timedelta(days=DAYS - 3)).isoformat()
    sums: dict[str, int] = defaultdict(int)
    payouts = 0
    for account in pages(admin, "/accounting/accounts"):
        for tx in pages(admin, f"/accounting/accounts/{account['employee_id']}/transactions"):
            if tx["business_day"] == day:
                sums[tx["kind"]] += tx["amount"]
                payouts += tx["kind"] == "payout"
    stats = admin.call("GET", f"/accounting/stats?from={day}&to={day}").json()["items"][0]
    assert stats["status"] == "closed"
    assert (stats["fees"], stats["rewards"]) == (-sums["fee"], sums["reward"])
    assert (stats["payouts"], stats["popugs_paid"]) == (-sums["payout"], payouts)
    assert stats["management_earnings"] == -(sums["fee"] + sums["reward"])
    close = admin.call("GET", f"/accounting/days/{day}").json()
    assert (close["status"], close["popugs_paid"], close["total_paid"]) == ("closed", payouts, -sums["payout"])
    dashboard = admin.call("GET", f"/analytics/dashboard?date={day}")
    assert dashboard.status_code == 200, dashboard.text
    assert dashboard.json()["management_earnings"] == stats["management_earnings"]
    assert dashboard.json()["popugs_in_red"] == stats["popugs_in_red"] == close["popugs_in_red"]
    # today, not closed: from the lake's balances (through a seeded month's end when one was rolled up)
    today = admin.call("GET", "/analytics/dashboard").json()
    assert today["closed"] is False
    assert today["popugs_in_red"] == sum(a["balance"] < 0 for a in pages(admin, "/accounting/accounts"))


def test_r_loc_3_seeding_bypasses_the_streams_and_refuses_a_busy_stack(stack, seeded):
    time.sleep(3)  # a relay or a close step fed by the seeded items would have published by now
    published = requests.get(f"{stack.url}/_devstack/events.json?event_name=TransactionRecorded", timeout=30).json()
    assert published["items"] == []
    mails = requests.get(f"{stack.url}/_devstack/mailbox.json", timeout=30).json()["items"]
    assert not [m for m in mails if "payout" in (m.get("subject") or "").lower()]
    command = [sys.executable, "-m", "devstack", "seed", "--popugs", "5", "--days", "2",
               "--state-file", str(stack.state_file)]  # fmt: skip
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "seed a fresh one" in again.stderr
