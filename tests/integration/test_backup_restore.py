"""Backups and the restore command on the emulator (SPEC §10; R-EV-2: a restore never publishes an old event
again, nor sends a mail again).

The real accounting handlers book fees and rewards and close a day; a backup is taken; the data is then
damaged (ledger entries deleted, balances changed, a new fee booked) and time passes (the devstack sweeper
expires outbox, inbox and mail items, as DynamoDB's TTL would). `python -m shared.ops.restore` brings every
balance and ledger entry back, the audit passes, and the table's stream shows that the restore inserted no
outbox item (which the relay would publish) and no mail item (which the mailer would send).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.console import Console
from devstack.sweeper import Sweeper
from shared.aws import client
from shared.ops import restore
from tests.conftest import make_table
from tests.integration.test_accounting import TODAY, Ledger
from tests.integration.test_accounting import books as books  # the fixture: a fresh accounting table

SKIPPED = ("OUTBOX#", "MAIL#")


# --- reading the table and its stream --------------------------------------------------------------------


def snapshot(table: str, *, skip: tuple[str, ...] = SKIPPED) -> dict[str, str]:
    """Every item but the skipped kinds, by key, as canonical JSON."""
    pages = client("dynamodb").get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    items = [i for page in pages for i in page["Items"] if not i["pk"]["S"].startswith(skip)]
    return {f"{i['pk']['S']}|{i['sk']['S']}": json.dumps(i, sort_keys=True) for i in items}


def count(table: str, prefix: str) -> int:
    pages = client("dynamodb").get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, FilterExpression="begins_with(pk, :p)",
        ExpressionAttributeValues={":p": {"S": prefix}}, Select="COUNT",
    )  # fmt: skip
    return sum(page["Count"] for page in pages)


class StreamTail:
    """The table's stream from now on (LATEST iterators taken at construction)."""

    def __init__(self, table: str) -> None:
        self.streams = client("dynamodbstreams")
        arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterators = [
            self.streams.get_shard_iterator(StreamArn=arn, ShardId=s["ShardId"], ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for s in shards
        ]

    def records(self) -> list[dict[str, Any]]:
        found = []
        for iterator in self.iterators:
            while iterator:
                page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                found += page["Records"]
                if not page["Records"]:
                    break
                iterator = page.get("NextShardIterator")
        return found


def inserted(records: list[dict[str, Any]], prefix: str) -> list[str]:
    return [
        r["dynamodb"]["Keys"]["pk"]["S"]
        for r in records
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["pk"]["S"].startswith(prefix)
    ]


def sweep(table: str, endpoint: str, tmp_path, at: datetime) -> dict[str, int]:
    """Expire TTL items as of `at` with devstack's sweeper (moto never expires anything)."""
    console = Console(tmp_path, out=io.StringIO())
    return Sweeper({table: "expires_at"}, endpoint_url=endpoint, console=console, clock=at.timestamp).sweep()


def run_restore(capsys, *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert restore.main(list(args)) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


# --- the books, backed up, damaged and restored ----------------------------------------------------------


def busy_day(books: Ledger) -> dict[str, Any]:
    """Four popugs with fees and rewards, the day closed (payouts, DayClosed, payout mail sent)."""
    popugs = {name: books.hire(name) for name in ("Rich", "Poor", "Idle", "Busy")}
    tasks = {
        "rich": books.task(popugs["Rich"], complete=True),
        "poor": books.task(popugs["Poor"]),
        "busy1": books.task(popugs["Busy"], complete=True),
        "busy2": books.task(popugs["Busy"]),
    }
    assert books.close(TODAY)[0] == 202
    books.run_close(TODAY)
    assert books.send_mail() >= 1
    assert books.day(TODAY)["status"] == "closed"
    return {"popugs": popugs, "tasks": tasks}


def test_r_ev_2_a_restore_brings_the_books_back_and_publishes_and_mails_nothing(books, emulator, tmp_path, capsys):
    from accounting import audit

    world = busy_day(books)
    popugs = world["popugs"]
    table = books.table
    dynamodb = client("dynamodb")

    # The backup, and what it holds as the API and the table show it.
    backup_arn = dynamodb.create_backup(TableName=table, BackupName="before-damage")["BackupDetails"]["BackupArn"]
    accounts = {p: books.me(p) for p in popugs.values()}
    ledgers = {p: books.ledger(p) for p in popugs.values()}
    state = snapshot(table)
    events = books.delivered + books.events("TaskPriced")  # what the books were built from, as of the backup
    assert books.audit()["ok"]
    outbox_in_backup, mail_in_backup = count(table, "OUTBOX#"), count(table, "MAIL#")
    assert outbox_in_backup > 5 and mail_in_backup >= 1

    # Damage: ledger entries deleted, balances changed, a new fee booked (a shuffle onto Rich).
    rich, poor, busy = popugs["Rich"], popugs["Poor"], popugs["Busy"]
    entries = dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"ACCOUNT#{busy}"}}
    )["Items"]
    for entry in entries[:2]:
        dynamodb.delete_item(TableName=table, Key={"pk": entry["pk"], "sk": entry["sk"]})
    for popug, delta in ((poor, 100_00), (rich, -1)):
        dynamodb.update_item(
            TableName=table, Key={"pk": {"S": f"BALANCE#{popug[0]}"}, "sk": {"S": popug}},
            UpdateExpression="ADD balance :d", ExpressionAttributeValues={":d": {"N": str(delta)}},
        )  # fmt: skip
    shuffled = books.assigned(world["tasks"]["poor"], rich, "shuffle")
    books.consume(books.tasks_consumer, shuffled)
    assert len(books.ledger(rich)) == len(ledgers[rich]) + 1
    # ... and a month passes: TTL takes the outbox, inbox and mail items (the restore must not bring back the
    # outbox and mail ones: the relay and the mailer act on their INSERTs).
    assert sweep(table, emulator, tmp_path, datetime.now(UTC) + timedelta(days=31))[table] > outbox_in_backup
    assert count(table, "OUTBOX#") == count(table, "MAIL#") == count(table, "INBOX#") == 0
    damaged = snapshot(table)
    assert damaged != state

    # A dry run compares and reports, and writes nothing.
    tail = StreamTail(table)
    dry = run_restore(capsys, "--table", table, "--backup", backup_arn, "--endpoint", emulator, "--dry-run")
    assert dry["dry_run"] and dry["restored"] > 0 and dry["deleted"] >= 1
    assert snapshot(table) == damaged and tail.records() == []

    # The restore.
    tail = StreamTail(table)
    summary = run_restore(capsys, "--table", table, "--backup", backup_arn, "--endpoint", emulator)
    # Seen on the table's stream, not taken from the command's word: no outbox item and no mail item was
    # written, so nothing is published again and nothing is sent again.
    records = tail.records()
    assert inserted(records, "ACCOUNT#"), "the stream should show the ledger entries put back"
    assert inserted(records, "OUTBOX#") == [], "the restore wrote outbox items back: the relay would republish"
    assert inserted(records, "MAIL#") == [], "the restore wrote mail items back: the mailer would send again"
    assert count(table, "OUTBOX#") == count(table, "MAIL#") == 0
    assert not [t for t in dynamodb.list_tables()["TableNames"] if t.startswith(f"{table}-restore-")]

    # Every balance and ledger entry is as it was, the audit passes, every other item is back too.
    assert {p: books.me(p) for p in popugs.values()} == accounts
    assert {p: books.ledger(p) for p in popugs.values()} == ledgers
    assert snapshot(table) == state
    report = audit.run(events)
    assert report["ok"], report["problems"]

    # The command's own account agrees with its dry run and with what the table shows.
    assert {k: summary[k] for k in ("restored", "deleted", "skipped")} == {
        k: dry[k] for k in ("restored", "deleted", "skipped")
    }
    assert summary["skipped"] == outbox_in_backup + mail_in_backup  # every one of them, none written back
    assert summary["by_kind"]["skipped"] == {"OUTBOX": outbox_in_backup, "MAIL": mail_in_backup}
    # the new fee's ledger entry, and the next day's statistics it opened
    assert summary["by_kind"]["deleted"] == {"ACCOUNT": 1, "STATS": 1}

    # The inbox went back with the state: the fee booked after the backup is booked again when its event is
    # redelivered (e.g. redriven), once, at the task's price.
    books.consume(books.tasks_consumer, shuffled, shuffled)
    assert len(books.ledger(rich)) == len(ledgers[rich]) + 1
    report = audit.run([*events, shuffled.model_dump(mode="json")])
    assert report["ok"], report["problems"]


# --- the command's other sources and its order of writes ------------------------------------------------


def put(table: str, *items: dict[str, str]) -> None:
    for values in items:
        client("dynamodb").put_item(TableName=table, Item={k: {"S": v} for k, v in values.items()})


def test_latest_picks_the_newest_backup_and_job_items_are_written_last(emulator, capsys):
    table = make_table(f"restore-{uuid.uuid4().hex[:8]}")
    dynamodb = client("dynamodb")
    put(table, {"pk": "DAY#2026-11-27", "sk": "DAY", "status": "closing"}, {"pk": "BALANCE#a", "sk": "a", "v": "1"})
    dynamodb.create_backup(TableName=table, BackupName="older")
    time.sleep(0.05)
    put(table, {"pk": "BALANCE#b", "sk": "b", "v": "2"}, {"pk": "OUTBOX#1", "sk": "OUTBOX", "events": "[]"})
    newer = dynamodb.create_backup(TableName=table, BackupName="newer")["BackupDetails"]["BackupArn"]
    expected = snapshot(table, skip=("OUTBOX#",))
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "DAY#2026-11-27"}, "sk": {"S": "DAY"}})
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "BALANCE#b"}, "sk": {"S": "b"}})
    dynamodb.delete_item(TableName=table, Key={"pk": {"S": "OUTBOX#1"}, "sk": {"S": "OUTBOX"}})
    put(table, {"pk": "MAIL#x", "sk": "MAIL", "to": "kesha@ates.example"})  # a live mail item: left alone
    tail = StreamTail(table)

    summary = run_restore(capsys, "--table", table, "--latest", "--endpoint", emulator)
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in tail.records()]
    assert keys == ["BALANCE#b", "DAY#2026-11-27"], "only these, and the close's DAY# after what the close reads"
    assert snapshot(table, skip=("OUTBOX#", "MAIL#")) == expected
    assert count(table, "MAIL#") == 1 and count(table, "OUTBOX#") == 0
    assert summary["source"] == f"backup {newer}"
    assert (summary["restored"], summary["deleted"], summary["skipped"], summary["kept"]) == (2, 0, 1, 1)


def test_point_in_time_recovery_goes_through_a_temporary_table_too(emulator, capsys):
    """moto's RestoreTableToPointInTime copies the table as it is NOW whatever the time asked (it keeps no
    history), so this proves the path (PITR checked, the restore asked for that instant into a temporary
    table, compared, dropped), not that DynamoDB returns the content of that instant."""
    table = make_table(f"restore-{uuid.uuid4().hex[:8]}")
    dynamodb = client("dynamodb")
    put(table, {"pk": "BALANCE#a", "sk": "a", "v": "1"})
    seen: list[dict[str, Any]] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.RestoreTableToPointInTime", lambda params, **_: seen.append(dict(params))
    )
    at = datetime.now(UTC)

    with pytest.raises(restore.RestoreError, match="point-in-time recovery is not enabled"):
        restore.restore(table, at=at, dynamodb=dynamodb, progress=restore.Progress(io.StringIO()))
    dynamodb.update_continuous_backups(
        TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    with pytest.raises(restore.RestoreError, match="in the future"):
        restore.restore(table, at=at + timedelta(hours=1), dynamodb=dynamodb, progress=restore.Progress(io.StringIO()))
    time.sleep(1.1)  # after the earliest restorable time (moto: when PITR was enabled, in seconds)
    at = datetime.now(UTC)
    summary = restore.restore(table, at=at, dynamodb=dynamodb, progress=restore.Progress(io.StringIO()))
    assert [(p["SourceTableName"], p["RestoreDateTime"]) for p in seen] == [(table, at)]
    assert seen[0]["TargetTableName"] == summary.temporary and summary.temporary.startswith(f"{table}-restore-")
    assert summary.as_dict()["unchanged"] == 1 and summary.as_dict()["restored"] == 0
    assert summary.temporary not in dynamodb.list_tables()["TableNames"]


def test_bad_sources_are_refused_with_a_reason(emulator, capsys):
    table = make_table(f"restore-{uuid.uuid4().hex[:8]}")
    assert restore.main(["--table", table, "--latest", "--endpoint", emulator]) == 1
    assert "no available backup" in capsys.readouterr().err
    assert restore.main(["--table", "no-such-table", "--latest", "--endpoint", emulator]) == 1
    assert "no table no-such-table" in capsys.readouterr().err
    point = "arn:aws:backup:us-east-1:123456789012:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
    assert restore.main(["--table", table, "--backup", point, "--endpoint", emulator]) == 1
    assert "--role-arn" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        restore.main(["--table", table, "--latest", "--at", "2026-11-27T00:00:00Z"])


def test_point_in_time_recovery_is_on_for_every_table_of_the_template(provisioned):
    """SPEC §10: PITR on every table, as the template declares it and as provisioned on the emulator."""
    tables = provisioned.active("AWS::DynamoDB::Table")
    assert len(tables) >= 4
    for logical_id in tables:
        declared = provisioned.properties(logical_id).get("PointInTimeRecoverySpecification") or {}
        assert declared.get("PointInTimeRecoveryEnabled") is True, f"{logical_id} has no point-in-time recovery"
        description = client("dynamodb").describe_continuous_backups(
            TableName=str(provisioned.resolver.ref(logical_id))
        )
        status = description["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
        assert status["PointInTimeRecoveryStatus"] == "ENABLED", logical_id
