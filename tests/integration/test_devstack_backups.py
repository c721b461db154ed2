"""devstack takes the template's AWS Backup plans on the same triggers as AWS (SPEC §10): each plan rule is a
schedule of devstack's scheduler (cron in UTC), and firing it backs up every selected table with DynamoDB's
CreateBackup on the emulator; S3 buckets are said not to be backed up locally."""

from __future__ import annotations

import datetime as dt
import io
import time

import pytest

from devstack import backups
from devstack.console import Console
from devstack.scheduler import Scheduler
from shared.aws import client

UTC = dt.UTC
NOW = dt.datetime(2025, 11, 27, 14, 33, 20, tzinfo=UTC)


class NoPool:
    """A worker pool that must not be asked for anything (backups run in devstack itself)."""

    def invoke(self, function, event):
        raise AssertionError(f"{function} went to the worker pool")


@pytest.fixture()
def plans(provisioned):
    found, notes = backups.plans_from(provisioned)
    return {plan.name: plan for plan in found}, notes


def names(provisioned, *logical_ids: str) -> tuple[str, ...]:
    return tuple(str(provisioned.resolver.ref(t)) for t in logical_ids)


def taker(provisioned, log_dir, **kwargs) -> backups.Backups:
    found, _ = backups.plans_from(provisioned)
    console = Console(log_dir, out=io.StringIO())
    return backups.Backups(found, endpoint_url=provisioned.endpoint_url, console=console, **kwargs)


def backups_of(table: str, prefix: str = "") -> list[dict]:
    return [
        b
        for b in client("dynamodb").list_backups(TableName=table)["BackupSummaries"]
        if b["BackupName"].startswith(prefix)
    ]


def test_the_template_plans_and_their_tables_are_read(plans, provisioned):
    found, notes = plans
    assert set(found) == {"TwiceDailyBackupPlan", "DailyBackupPlan"}
    twice, daily = found["TwiceDailyBackupPlan"], found["DailyBackupPlan"]
    assert (twice.plan_name, twice.rule, twice.expression, twice.timezone) == (
        "ates-local-twice-daily", "every-12-hours", "cron(0 0/12 * * ? *)", "UTC",
    )  # fmt: skip
    assert twice.tables == names(provisioned, "TasksTable", "StaffTable")
    assert (daily.expression, daily.tables) == (
        "cron(30 0 * * ? *)", names(provisioned, "AuthTable", "AnalyticsMetricsTable")
    )  # fmt: skip
    assert twice.delete_after_days == daily.delete_after_days == 35
    # The lake bucket is in the daily selection: AWS backs it up, devstack says once that it does not.
    [bucket_note] = [n for n in notes if "AnalyticsLakeBucket" in n]
    assert "DailyBackupSelection" in bucket_note and "does not back up S3 buckets" in bucket_note
    assert len(notes) == 1, notes


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("plan", "after", "expected"),
    [
        ("TwiceDailyBackupPlan", NOW, at(28, 0)),  # cron(0 0/12 * * ? *): 00:00 and 12:00 UTC
        ("TwiceDailyBackupPlan", at(28, 0), at(28, 12)),
        ("TwiceDailyBackupPlan", at(28, 9), at(28, 12)),
        ("TwiceDailyBackupPlan", at(28, 12), at(29, 0)),
        ("DailyBackupPlan", NOW, at(28, 0, 30)),  # cron(30 0 * * ? *): 00:30 UTC
        ("DailyBackupPlan", at(28, 0, 30), at(29, 0, 30)),
    ],
)
def test_plans_fire_on_their_cron_in_utc(plans, plan, after, expected):
    spec = plans[0][plan].schedule()
    assert spec.parsed().next_after(after, after) == expected


def test_running_a_plan_now_backs_up_each_selected_table_once(provisioned, tmp_path):
    backups_taker = taker(provisioned, tmp_path)
    scheduler = Scheduler(backups_taker.schedules(), backups_taker.around(NoPool()), backups_taker.console)
    tables = names(provisioned, "TasksTable", "StaffTable")
    before = {t: len(backups_of(t, "ates-local-twice-daily-")) for t in tables}
    auth_before = len(backups_of(names(provisioned, "AuthTable")[0]))

    spec, invocation = scheduler.run_now("ates-local-twice-daily")  # found by its BackupPlanName too
    assert spec.name == "TwiceDailyBackupPlan" and invocation.ok, invocation.error
    assert [b["table"] for b in invocation.payload["backups"]] == list(tables)
    for table in tables:
        assert len(backups_of(table, "ates-local-twice-daily-every-12-hours-")) == before[table] + 1
    assert len(backups_of(names(provisioned, "AuthTable")[0])) == auth_before  # not in this plan
    listed = {s["name"]: s for s in scheduler.describe()}
    assert listed["DailyBackupPlan"]["expression"] == "cron(30 0 * * ? *)" and listed["DailyBackupPlan"]["next"]


def test_the_scheduler_loop_fires_a_plan_when_its_time_comes(provisioned, tmp_path):
    """A clock set 0.3 s before the next 00:30 UTC: the loop fires the daily plan by itself."""
    due = dt.datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0) + dt.timedelta(days=1)
    offset = due - dt.timedelta(seconds=0.3) - dt.datetime.now(UTC)
    backups_taker = taker(provisioned, tmp_path)
    daily = [s for s in backups_taker.schedules() if s.name == "DailyBackupPlan"]
    scheduler = Scheduler(daily, backups_taker.around(NoPool()), backups_taker.console,
                          now=lambda: dt.datetime.now(UTC) + offset)  # fmt: skip
    auth = names(provisioned, "AuthTable")[0]
    expected_name = f"ates-local-daily-daily-{due.strftime('%Y%m%dT%H%M%SZ')}"
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while not backups_of(auth, expected_name) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.stop()
    assert len(backups_of(auth, expected_name)) == 1, "named after its scheduled time"


def test_delete_after_days_drops_the_plans_old_backups_only(provisioned, tmp_path):
    staff = names(provisioned, "StaffTable")[0]
    client("dynamodb").create_backup(TableName=staff, BackupName="someone-elses-backup")
    taker(provisioned, tmp_path).run("TwiceDailyBackupPlan")
    ours = {b["BackupArn"] for b in backups_of(staff, "ates-local-twice-daily-")}
    assert ours
    later = taker(provisioned, tmp_path, now=lambda: dt.datetime.now(UTC) + dt.timedelta(days=36))
    result = later.run("TwiceDailyBackupPlan")
    assert ours <= set(result["expired"])
    left = backups_of(staff)
    assert {b["BackupArn"] for b in left} & ours == set()
    assert [b["BackupName"] for b in left].count("someone-elses-backup") >= 1
    [new] = [x["backup_arn"] for x in result["backups"] if x["table"] == staff]
    assert new in {b["BackupArn"] for b in left}


def test_functions_still_go_to_the_pool(provisioned, tmp_path):
    class Pool:
        calls = []

        def invoke(self, function, event):
            self.calls.append(function)
            return "invoked"

    pool = Pool()
    assert taker(provisioned, tmp_path).around(pool).invoke("AccountingDailyCloseFunction", {}) == "invoked"
    assert pool.calls == ["AccountingDailyCloseFunction"]
