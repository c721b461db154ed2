"""The analytics lake on the emulator (SPEC §7): landing (R-AN-1), compaction (R-AN-2), and the one query
layer over the logical tables on DuckDB, the same SQL Athena runs (R-AN-4). Each test has a lake bucket of
its own and a mirror in its own temporary directory; the clock is pinned where compaction reads it."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from shared import clock
from shared.aws import client
from shared.contracts import REGISTRY, Envelope
from shared.contracts.accounting import DayClosedV1, TaskPricedV1, TransactionRecordedV1
from shared.contracts.auth import AccountCreatedV1, AccountRolesChangedV1
from shared.contracts.staff import DepartmentChangedV1, EmployeeDismissedV1, EmployeeHiredV1, EmployeeUpdatedV1
from shared.contracts.tasks import TaskAssignedV1, TaskCompletedV1, TaskCreatedV1, TaskCreatedV2
from tests.events import bridge, deliver, sqs_event
from tests.integration.conftest import LambdaContext

D = date(2026, 11, 26)  # the business day under test (business timezone UTC, the template's default)
NEXT = D + timedelta(days=1)
POPUG, ADMIN = str(uuid.uuid4()), str(uuid.uuid4())


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


class LongContext(LambdaContext):
    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


def stamped(data: BaseModel, when: datetime) -> Envelope:
    return REGISTRY.envelope(data).model_copy(update={"event_time": when})


def tx(kind: str, amount: int, business_day: date, when: datetime, task_id: str | None = None) -> Envelope:
    data = TransactionRecordedV1(
        transaction_id=uuid.uuid4(), account_id=POPUG, kind=kind, amount=amount, balance_after=0, task_id=task_id,
        reason=f"{kind} of {business_day}", business_day=business_day,
    )  # fmt: skip
    return stamped(data, when)


def closed(day: date, when: datetime, paid: int, total: int, in_red: int = 0) -> Envelope:
    data = DayClosedV1(business_day=day, popugs_paid=paid, total_paid=total, popugs_in_red=in_red)
    return stamped(data, when)


@pytest.fixture()
def lake(as_function, monkeypatch, tmp_path) -> str:
    """A fresh lake bucket, the analytics functions' environment, DuckDB as the engine (as in devstack)."""
    from analytics import lake as lake_module
    from analytics import settings

    as_function("AnalyticsApiFunction")  # every analytics variable; LAKE_BUCKET replaced below
    bucket = f"ates-lake-{uuid.uuid4().hex[:12]}"
    client("s3").create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKE_BUCKET", bucket)
    monkeypatch.setenv("ANALYTICS_QUERY_ENGINE", "duckdb")
    settings.get.cache_clear()
    monkeypatch.setattr(lake_module, "MIRROR_ROOT", tmp_path / "mirror")
    return bucket


def land(*envelopes: Envelope) -> None:
    """One delivered batch."""
    from analytics import on_event

    assert deliver(on_event.lambda_handler, *envelopes) == {"batchItemFailures": []}


def land_each(*envelopes: Envelope) -> None:
    """One delivery each, as a quiet stack lands events: an object per event, what packing is for."""
    for envelope in envelopes:
        land(envelope)


def compact(now: datetime, monkeypatch, event: dict[str, Any] | None = None, context: Any = None) -> dict:
    from analytics import compact as job

    monkeypatch.setattr(clock, "now", lambda: now)
    return job.lambda_handler(event or {}, context or LongContext())


def keys(bucket: str, prefix: str = "") -> list[str]:
    pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def rows(sql: str, max_rows: int = 1000) -> list[list[Any]]:
    from analytics import query

    return query.run(sql, max_rows=max_rows, timeout_seconds=30).rows


def everything() -> dict[str, list[list[Any]]]:
    """Every logical table, whole and ordered."""
    return {
        "transactions": rows("SELECT * FROM transactions ORDER BY recorded_at, transaction_id"),
        "tasks": rows("SELECT * FROM tasks ORDER BY created_at, task_id"),
        "closed_days": rows("SELECT * FROM closed_days ORDER BY business_day"),
    }


def curated(bucket: str, table: str, day: date) -> list[tuple]:
    """The rows of one compacted partition, read straight from its Parquet object."""
    import duckdb

    from analytics import lake as lake_module

    body = client("s3").get_object(Bucket=bucket, Key=lake_module.curated_key(table, day))["Body"].read()
    path = lake_module.MIRROR_ROOT.parent / f"{table}-{day}.parquet"
    path.write_bytes(body)
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


# --- landing (R-AN-1) -----------------------------------------------------------------------------------


def test_r_an_1_landing_is_idempotent_one_object_per_event_keyed_by_its_id(lake):
    event = tx("fee", -1500, D, at(D, 23, 59))
    land(event)
    land(event, event)  # redelivered, twice in one batch
    assert keys(lake) == [f"raw/TransactionRecorded/v1/day=2026-11-26/{event.event_id}.json"]
    body = client("s3").get_object(Bucket=lake, Key=keys(lake)[0])["Body"].read().decode()
    assert body.count("\n") == 1 and body.endswith("\n")  # one line: what the Glue JSON SerDe reads
    assert Envelope.model_validate(json.loads(body)) == event


def test_r_an_1_the_raw_partition_is_the_utc_day_of_the_event_time(lake):
    late = tx("payout", -3000, D, datetime(2026, 11, 27, 1, 30, tzinfo=UTC))
    moscow = late.model_copy(update={"event_id": uuid.uuid4(), "event_time": datetime.fromisoformat(
        "2026-11-27T02:30:00+03:00")})  # fmt: skip
    land(late, moscow)
    days = {key.split("/")[3] for key in keys(lake)}
    assert days == {"day=2026-11-27", "day=2026-11-26"}


SAMPLES: dict[tuple[str, int], BaseModel] = {
    ("EmployeeHired", 1): EmployeeHiredV1(employee_id=POPUG, version=1, name="Kesha", email="k@ates.example",
                                          position="parrot", department_id=None),
    ("EmployeeUpdated", 1): EmployeeUpdatedV1(employee_id=POPUG, version=2, name="Kesha", email="k@ates.example",
                                              position="chief parrot", department_id=uuid.uuid4()),
    ("EmployeeDismissed", 1): EmployeeDismissedV1(employee_id=POPUG, version=3, dismissed_at=at(D, 18)),
    ("DepartmentChanged", 1): DepartmentChangedV1(department_id=uuid.uuid4(), version=1, name="Perches",
                                                  parent_id=None, head_id=POPUG, deleted=False),
    ("AccountCreated", 1): AccountCreatedV1(account_id=POPUG, version=1, roles=["worker"], active=True),
    ("AccountRolesChanged", 1): AccountRolesChangedV1(account_id=POPUG, version=2, roles=["worker", "admin"],
                                                      active=True),
    ("TaskCreated", 1): TaskCreatedV1(task_id=uuid.uuid4(), title="[UP-1] Feed", created_by=ADMIN),
    ("TaskCreated", 2): TaskCreatedV2(task_id=uuid.uuid4(), title="Feed", jira_id="UP-2", due_date=D,
                                      created_by=ADMIN),
    ("TaskAssigned", 1): TaskAssignedV1(task_id=uuid.uuid4(), assignee_id=POPUG, reason="shuffle"),
    ("TaskCompleted", 1): TaskCompletedV1(task_id=uuid.uuid4(), assignee_id=POPUG),
    ("TaskPriced", 1): TaskPricedV1(task_id=uuid.uuid4(), assign_fee=1200, reward=3300),
    ("TransactionRecorded", 1): TransactionRecordedV1(transaction_id=uuid.uuid4(), account_id=POPUG, kind="fee",
                                                      amount=-1200, balance_after=-1200, task_id=None,
                                                      reason="fee", business_day=D),
    ("DayClosed", 1): DayClosedV1(business_day=D, popugs_paid=0, total_paid=0, popugs_in_red=1),
}  # fmt: skip


def test_r_an_1_every_registered_event_version_lands_and_reads_back_through_its_raw_table(lake):
    from analytics import tables

    assert set(SAMPLES) == {(c.name, c.version) for c in REGISTRY.contracts}, "add a sample for the new event"
    envelopes = {key: stamped(model, at(D, 12)) for key, model in SAMPLES.items()}
    land(*envelopes.values())
    for (name, version), envelope in envelopes.items():
        key = f"raw/{name}/v{version}/day=2026-11-26/{envelope.event_id}.json"
        assert key in keys(lake)
        table = tables.raw_table_name(name, version)
        [[event_id, data, day]] = rows(f"SELECT event_id, data, day FROM {table}")
        assert (event_id, day) == (str(envelope.event_id), "2026-11-26")
        assert data == envelope.data  # the struct the Glue columns declare holds every field


def test_r_ev_4_a_poison_event_fails_its_record_and_the_rest_land(lake):
    from analytics import on_event

    good = tx("fee", -1000, D, at(D, 9))
    unknown_version = good.model_copy(update={"event_id": uuid.uuid4(), "event_version": 9})
    unknown_name = good.model_copy(update={"event_id": uuid.uuid4(), "event_name": "TaskExploded"})
    bad_data = good.model_copy(update={"event_id": uuid.uuid4(), "data": {"kind": "fee"}})
    wrong_producer = good.model_copy(update={"event_id": uuid.uuid4(), "producer": "ates.tasks"})
    batch = sqs_event(*(bridge(e) for e in (good, unknown_version, unknown_name, bad_data, wrong_producer)))
    batch["Records"].append({**batch["Records"][0], "messageId": "not-an-event", "body": '{"detail": 42}'})
    outcome = on_event.lambda_handler(batch, None)
    failed = {f["itemIdentifier"] for f in outcome["batchItemFailures"]}
    assert failed == {r["messageId"] for r in batch["Records"][1:]}
    assert keys(lake) == [f"raw/TransactionRecorded/v1/day=2026-11-26/{good.event_id}.json"]


def test_r_an_1_a_batch_lands_one_object_per_partition_and_landing_it_again_changes_nothing(lake):
    """A busy queue delivers a hundred events at once: each raw partition's share is one object (named by
    its bytes, so the same batch again is the same object), a partition with one event keeps the event's id,
    and the tables read every event once, also when part of the batch is delivered again."""
    fees = [tx("fee", -100 * n, D, at(D, 9, n)) for n in range(1, 4)]
    next_fee = tx("fee", -700, NEXT, at(NEXT, 9))
    task = stamped(TaskCreatedV2(task_id=uuid.uuid4(), title="Feed", created_by=ADMIN), at(D, 8))
    land(*fees, next_fee, task)
    transactions = "raw/TransactionRecorded/v1/"
    [batch] = keys(lake, f"{transactions}day=2026-11-26/")
    assert batch.rsplit("/", 1)[-1].startswith("batch-")
    body = client("s3").get_object(Bucket=lake, Key=batch)["Body"].read().decode()
    assert sorted(json.loads(line)["event_id"] for line in body.splitlines()) == sorted(str(f.event_id) for f in fees)
    assert keys(lake, f"{transactions}day=2026-11-27/") == [f"{transactions}day=2026-11-27/{next_fee.event_id}.json"]
    assert keys(lake, "raw/TaskCreated/v2/") == [f"raw/TaskCreated/v2/day=2026-11-26/{task.event_id}.json"]
    landed = keys(lake)
    land(*fees, next_fee, task)  # redelivered whole: the same objects
    assert keys(lake) == landed
    land(fees[0], fees[2])  # redelivered in part: another object, the same rows
    assert len(keys(lake, f"{transactions}day=2026-11-26/")) == 2
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[4, -1300]]
    pack_lake(lake)
    assert [lake_key.rsplit("/", 1)[-1][:5] for lake_key in keys(lake, f"{transactions}day=2026-11-26/")] == ["pack-"]
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[4, -1300]]


def test_r_an_1_a_partition_that_cannot_be_written_fails_its_records_only(lake, monkeypatch):
    from analytics import lake as lake_module
    from analytics import on_event

    fees = [tx("fee", -100, D, at(D, hour)) for hour in (9, 10)]
    task = stamped(TaskCreatedV2(task_id=uuid.uuid4(), title="Feed", created_by=ADMIN), at(D, 8))
    put_landed = lake_module.put_landed

    def refuses_transactions(bucket: str, envelopes: list[Envelope]) -> str:
        if envelopes[0].event_name == "TransactionRecorded":
            raise RuntimeError("S3 is having a moment")
        return put_landed(bucket, envelopes)

    monkeypatch.setattr(lake_module, "put_landed", refuses_transactions)
    batch = sqs_event(*(bridge(e) for e in (*fees, task)))
    outcome = on_event.lambda_handler(batch, None)
    assert {f["itemIdentifier"] for f in outcome["batchItemFailures"]} == {r["messageId"] for r in batch["Records"][:2]}
    assert keys(lake) == [f"raw/TaskCreated/v2/day=2026-11-26/{task.event_id}.json"]


# --- compaction (R-AN-2) and the logical tables ----------------------------------------------------------


@pytest.fixture()
def day_in_lake(lake) -> dict[str, Any]:
    """Business day D as accounting and tasks tell it: tasks created on D (v1 and v2) and on D+1, a fee and
    a reward on D, a fee recorded late on D that belongs to D+1 (D closed early), the payout of D recorded
    after midnight, a fee of D+1, and D's close."""
    v1 = TaskCreatedV1(task_id=uuid.uuid4(), title="[UP-7]  Polish the perch ", created_by=ADMIN)
    v2 = TaskCreatedV2(task_id=uuid.uuid4(), title="Feed the parrots", jira_id="UP-8", created_by=ADMIN)
    later = TaskCreatedV2(task_id=uuid.uuid4(), title="Count the seeds", created_by=ADMIN)
    events = {
        "task_v1": stamped(v1, at(D, 9)),
        "task_v2": stamped(v2, at(D, 10)),
        "task_next": stamped(later, at(NEXT, 8)),
        "fee": tx("fee", -1500, D, at(D, 9, 5), str(v1.task_id)),
        "reward": tx("reward", 3500, D, at(D, 15), str(v1.task_id)),
        "early_fee": tx("fee", -1200, NEXT, at(D, 23, 30), str(v2.task_id)),
        "payout": tx("payout", -2000, D, at(NEXT, 0, 20)),
        "next_fee": tx("fee", -1100, NEXT, at(NEXT, 9), str(later.task_id)),
        "close": closed(D, at(NEXT, 0, 21), paid=1, total=2000),
    }
    land_each(*events.values())
    return events


def test_r_an_2_a_closed_day_is_compacted_and_the_logical_tables_do_not_change(lake, day_in_lake, monkeypatch):
    from analytics import lake as lake_module

    before = everything()
    assert [r[2] for r in before["transactions"]] == ["fee", "reward", "fee", "payout", "fee"]
    assert [(r[1], r[2]) for r in before["tasks"]] == [
        ("Polish the perch", "UP-7"),
        ("Feed the parrots", "UP-8"),
        ("Count the seeds", None),
    ]  # v1 read like its upcast: the jira id out of the title
    outcome = compact(at(NEXT, 1), monkeypatch)
    assert [d["day"] for d in outcome["compacted"]] == ["2026-11-26"] and outcome["watermark"] == "2026-11-26"
    assert outcome["compacted"][0]["rows"] == {
        "transactions": 3,
        "tasks": 2,
        "closed_days": 1,
        "daily_totals": 3,
        "account_days": 1,
    }  # fmt: skip (the daily aggregates: fee, reward and payout of D; one account)
    assert lake_module.read_watermark(lake) == D
    assert keys(lake, "curated/") == [
        "curated/account_days/day=2026-11-26/part-0.parquet",
        "curated/closed_days/day=2026-11-26/part-0.parquet",
        "curated/daily_totals/day=2026-11-26/part-0.parquet",
        "curated/tasks/day=2026-11-26/part-0.parquet",
        "curated/transactions/day=2026-11-26/part-0.parquet",
    ]
    partition = curated(lake, "transactions", D)
    assert [(r[2], r[3]) for r in partition] == [("fee", -1500), ("reward", 3500), ("payout", -2000)]
    assert partition[2][8] == datetime(2026, 11, 27, 0, 20)  # the payout recorded after midnight belongs to D
    assert everything() == before  # curated rows through D, raw rows after it: the same rows, none twice


def test_r_an_2_running_the_compaction_again_changes_nothing(lake, day_in_lake, monkeypatch):
    compact(at(NEXT, 1), monkeypatch)
    first = {key: curated(lake, key.split("/")[1], D) for key in keys(lake, "curated/")}
    before = everything()
    again = compact(at(NEXT, 2), monkeypatch)  # the schedule again: D+1 is not closed, nothing to do
    assert again["compacted"] == [] and again["watermark"] == "2026-11-26"
    redo = compact(at(NEXT, 3), monkeypatch, {"day": "2026-11-26"})  # an explicit re-run of D
    assert [d["day"] for d in redo["compacted"]] == ["2026-11-26"] and redo["watermark"] == "2026-11-26"
    assert {key: curated(lake, key.split("/")[1], D) for key in keys(lake, "curated/")} == first
    assert everything() == before


def test_r_an_2_days_not_closed_or_not_settled_are_not_compacted(lake, day_in_lake, monkeypatch):
    from analytics import lake as lake_module

    too_soon = compact(at(NEXT, 0, 25), monkeypatch)  # closed 4 minutes ago: events may still be in flight
    assert too_soon["compacted"] == [] and "2026-11-26" in too_soon["waiting"]
    no_time = compact(at(NEXT, 1), monkeypatch, context=LambdaContext())  # 10 s left: the next run goes on
    assert no_time["compacted"] == [] and "next run" in no_time["waiting"]
    assert keys(lake, "curated/") == [] and lake_module.read_watermark(lake) is None
    refused = compact(at(NEXT, 12), monkeypatch, {"day": NEXT.isoformat()})
    assert refused["compacted"] == [] and "not closed" in refused["refused"]
    assert keys(lake, "curated/") == []


def test_r_an_2_a_day_whose_payouts_have_not_all_landed_waits_for_them(lake, monkeypatch):
    land(tx("payout", -2000, D, at(NEXT, 0, 20)), closed(D, at(NEXT, 0, 21), paid=2, total=4500))
    waiting = compact(at(NEXT, 1), monkeypatch)
    assert waiting["compacted"] == [] and "payouts" in waiting["waiting"]
    assert keys(lake, "curated/") == []
    land(tx("payout", -2500, D, at(NEXT, 0, 20)))  # the last one, redriven from the dead-letter queue
    done = compact(at(NEXT, 2), monkeypatch)
    assert [d["day"] for d in done["compacted"]] == ["2026-11-26"]
    assert rows("SELECT count(*), sum(amount) FROM transactions WHERE kind = 'payout'") == [[2, -4500]]


def test_r_an_2_days_compact_in_order_and_the_next_run_catches_up(lake, day_in_lake, monkeypatch):
    later = NEXT + timedelta(days=1)
    land(closed(NEXT, at(later, 0, 30), paid=0, total=0))
    out_of_order = compact(at(later, 3), monkeypatch, {"day": NEXT.isoformat()})
    assert "in order" in out_of_order["refused"]
    caught_up = compact(at(later, 3), monkeypatch)
    assert [d["day"] for d in caught_up["compacted"]] == ["2026-11-26", "2026-11-27"]
    assert [d["rows"]["transactions"] for d in caught_up["compacted"]] == [3, 2]  # D+1: the early and next fees
    assert rows("SELECT business_day, count(*) FROM transactions GROUP BY 1 ORDER BY 1") == [
        ["2026-11-26", 3], ["2026-11-27", 2]
    ]  # fmt: skip


def test_r_an_4_the_local_mirror_copies_only_new_or_changed_objects_and_drops_expired_ones(lake):
    from analytics import lake as lake_module

    s3, prefix = client("s3"), "raw/TaskPriced/v1/"
    for day in ("2026-11-25", "2026-11-26"):
        s3.put_object(Bucket=lake, Key=f"{prefix}day={day}/a.json", Body=b'{"event_id":"1"}\n')
    mirror = lake_module.Mirror(lake)
    assert mirror.sync(prefix) == 2
    assert mirror.sync(prefix) == 0  # unchanged ETags: nothing downloaded
    assert lake_module.Mirror(lake).sync(prefix) == 0  # a new process trusts what the last one copied
    s3.put_object(Bucket=lake, Key=f"{prefix}day=2026-11-26/a.json", Body=b'{"event_id":"2"}\n')
    assert mirror.sync(prefix, first_day=D) == 1  # only the day asked for, only the changed object
    assert mirror.path(f"{prefix}day=2026-11-26/a.json").read_text() == '{"event_id":"2"}\n'
    s3.delete_object(Bucket=lake, Key=f"{prefix}day=2026-11-25/a.json")  # expired (R-AN-5)
    mirror.sync(prefix)
    assert not mirror.path(f"{prefix}day=2026-11-25/a.json").exists()


def test_r_an_4_a_query_over_several_tables_lists_them_at_once(lake, monkeypatch):
    """Each listing is a round trip (tens of milliseconds on S3): a dashboard reads four tables, and waited for
    four listings one after the other. They run at once; each range is copied as `sync` alone copies it."""
    from analytics import lake as lake_module

    s3, ranges = client("s3"), {"raw/TaskPriced/v1/": (D, None), "raw/TaskCompleted/v1/": (None, D)}
    for prefix in ranges:
        for day in ("2026-11-25", D.isoformat(), "2026-11-27"):
            s3.put_object(Bucket=lake, Key=f"{prefix}day={day}/a.json", Body=b'{"event_id":"1"}\n')
    both_listing = threading.Barrier(len(ranges), timeout=5)  # broken (an error) if one waits for the other
    listing = lake_module.Mirror._list

    def meeting(self, prefix, first_day, last_day):
        both_listing.wait()
        return listing(self, prefix, first_day, last_day)

    monkeypatch.setattr(lake_module.Mirror, "_list", meeting)
    mirror = lake_module.Mirror(lake)
    assert mirror.sync_all(ranges) == 4
    copied = sorted(p.relative_to(mirror.root).as_posix() for p in mirror.root.glob("raw/*/v1/*/*"))
    assert copied == [
        "raw/TaskCompleted/v1/day=2026-11-25/a.json", f"raw/TaskCompleted/v1/day={D}/a.json",
        f"raw/TaskPriced/v1/day={D}/a.json", "raw/TaskPriced/v1/day=2026-11-27/a.json",
    ]  # fmt: skip
    monkeypatch.setattr(lake_module.Mirror, "_list", listing)
    assert mirror.sync_all(ranges) == 0


def test_r_an_4_a_copy_cut_short_by_its_deadline_keeps_what_it_copied_and_the_next_goes_on(lake, monkeypatch):
    """A year-old lake's raw days are ~10,000 objects: more than one query's time can copy. The copy stops at
    the query's deadline, and the next query copies only the rest instead of starting over."""
    from analytics import lake as lake_module

    s3, prefix = client("s3"), "raw/TaskPriced/v1/"
    keys = [f"{prefix}day=2026-11-26/{name}.json" for name in ("a0", "a1", "a2", "a3", "b0", "b1")]
    for key in keys:
        s3.put_object(Bucket=lake, Key=key, Body=b'{"event_id":"1"}\n')
    download = lake_module.Mirror._download

    def slow_for_b(self, key):  # the b objects take longer than the deadline leaves
        if "/b" in key:
            time.sleep(1.0)
        return download(self, key)

    monkeypatch.setattr(lake_module, "DOWNLOAD_THREADS", 1)
    monkeypatch.setattr(lake_module.Mirror, "_download", slow_for_b)
    started = time.monotonic()
    with pytest.raises(lake_module.MirrorIncomplete) as stopped:
        lake_module.Mirror(lake).sync(prefix, deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 1.5  # answered at its deadline, not after every download
    assert (stopped.value.copied, stopped.value.wanted) == (4, 6)

    monkeypatch.setattr(lake_module.Mirror, "_download", download)
    assert lake_module.Mirror(lake).sync(prefix) == 2  # a new process copies only the two left
    assert lake_module.Mirror(lake).sync(prefix) == 0


def test_r_an_4_a_warm_query_lists_the_compacted_zone_once_per_compaction_run(lake, day_in_lake, monkeypatch):
    """A year-old lake's query lists its compacted ranges (curated days, monthly roll-ups) on top of the raw
    days a fresh lake's lists, each a round trip. Only a compaction run writes there, so a warm process
    lists them once per run; a run under way or cut short leaves them listed at every query, and a run's
    rewrite (a late event) is read as soon as the run is done."""
    from analytics import compact as job
    from analytics import lake as lake_module

    listed: list[str] = []
    listing = lake_module.Mirror._list

    def counted(self, prefix, first_day, last_day):
        listed.append(prefix)
        return listing(self, prefix, first_day, last_day)

    def curated_listings(sql: str) -> tuple[list[list[Any]], int]:
        listed.clear()
        answer = rows(sql)
        return answer, sum(prefix.startswith(lake_module.CURATED) for prefix in listed)

    monkeypatch.setattr(lake_module.Mirror, "_list", counted)
    of_d = "SELECT count(*), sum(amount) FROM transactions WHERE business_day = DATE '2026-11-26'"
    compact(at(NEXT, 1), monkeypatch)
    assert curated_listings(of_d) == ([[3, 0]], 1)
    assert curated_listings(of_d) == ([[3, 0]], 0)  # the same run's files: not listed again

    for path in lake_module.Mirror(lake).path("curated/transactions/").glob("day=*/*"):
        path.unlink()  # removed by another process's copy (only ever one gone from the bucket)
    assert curated_listings(of_d) == ([[3, 0]], 1)

    def cut_short(*args, **kwargs):
        raise TimeoutError("the run's time ran out")

    compact_day = job.compact_day
    monkeypatch.setattr(job, "compact_day", cut_short)
    with pytest.raises(TimeoutError):
        compact(at(NEXT, 2), monkeypatch, {"day": D.isoformat()})
    assert lake_module.read_state(lake).revision is None
    assert curated_listings(of_d) == ([[3, 0]], 1)
    assert curated_listings(of_d) == ([[3, 0]], 1)  # until a run ends, every query lists
    monkeypatch.setattr(job, "compact_day", compact_day)

    late = tx("reward", 4200, D, at(D, 16))  # D's own raw partition, after D was compacted (R-AN-8)
    time.sleep(1.1)  # S3 keeps whole seconds: a later second than the partition
    land(late)
    compact(at(NEXT + timedelta(days=2), 1), monkeypatch)
    assert curated_listings(of_d) == ([[4, 4200]], 1)
    assert curated_listings(of_d) == ([[4, 4200]], 0)


def test_r_an_4_a_warm_query_parses_each_raw_file_once(lake, day_in_lake, monkeypatch):
    """The days after the watermark are read from raw JSON (a year-old company's last two days: ~8,000 lines,
    which every dashboard query parsed again). A warm process parses each mirrored file once and keeps its
    rows; a query parses the files new in the days it reads, and the rows of files gone from the lake go."""
    from analytics import raw_rows

    parsed: list[int] = []
    refresh = raw_rows.KeptRawRows.refresh

    def counted(self, connection, days):
        parsed.append(refresh(self, connection, days) if self.table.name == "raw_transaction_recorded_v1" else 0)
        return parsed[-1]

    def answer() -> tuple[list[list[Any]], int]:
        parsed.clear()
        return rows("SELECT count(*), sum(amount) FROM transactions"), sum(parsed)

    monkeypatch.setattr(raw_rows.KeptRawRows, "refresh", counted)
    assert answer() == ([[5, -2300]], 5)  # the fixture's five objects
    assert answer() == ([[5, -2300]], 0)
    land(tx("fee", -700, NEXT, at(NEXT, 11)))
    assert answer() == ([[6, -3000]], 1)
    packed = pack_lake(lake)["packed"]
    assert len(packed) == 2 and answer() == ([[6, -3000]], 2)  # each day's objects in one pack
    d_pack = next(key for key in keys(lake, f"raw/TransactionRecorded/v1/day={D}/"))
    client("s3").delete_object(Bucket=lake, Key=d_pack)  # expired (R-AN-5): D's fee, reward and early fee
    assert answer() == ([[3, -3800]], 0)


# --- packing (R-AN-1) ----------------------------------------------------------------------------------


def pack_lake(bucket: str) -> dict[str, Any]:
    from analytics import pack

    return pack.pack_all(bucket)


def test_r_an_1_packing_puts_a_partitions_landed_events_in_one_object_and_the_tables_do_not_change(lake, day_in_lake):
    """A busy day lands thousands of one-event objects, and a query lists and opens each: packing puts a
    partition's events in one object, deletes the landed ones, and every logical table reads the same."""
    before = everything()
    transactions = "raw/TransactionRecorded/v1/"
    assert len(keys(lake, transactions)) == 5  # fee, reward, early fee on D; payout and next fee on D+1
    outcome = pack_lake(lake)
    assert sorted((p["partition"], p["objects"], p["events"]) for p in outcome["packed"]) == [
        (f"{transactions}day=2026-11-26/", 3, 3),
        (f"{transactions}day=2026-11-27/", 2, 2),
    ]  # fmt: skip (a partition of one object is left as it is)
    packs = keys(lake, transactions)
    assert [k.rsplit("/", 1)[-1].startswith("pack-") for k in packs] == [True, True]
    assert everything() == before
    assert pack_lake(lake)["packed"] == []  # packed: nothing to do

    land(day_in_lake["fee"], tx("fee", -900, NEXT, at(NEXT, 10)))  # one redelivered (already packed), one new
    assert len(everything()["transactions"]) == len(before["transactions"]) + 1  # the redelivered one once
    pack_lake(lake)
    assert len(keys(lake, transactions)) == 4  # each day: its pack and a pack of what landed since
    after = everything()
    assert len(after["transactions"]) == len(before["transactions"]) + 1 and after["tasks"] == before["tasks"]


def test_r_an_1_a_partitions_packs_are_merged_when_there_are_too_many(lake, monkeypatch):
    from analytics import pack

    monkeypatch.setattr(pack, "MAX_PACKS", 2)
    partition = "raw/TransactionRecorded/v1/day=2026-11-26/"
    for hour in range(4):
        land_each(tx("fee", -100, D, at(D, hour)), tx("fee", -100, D, at(D, hour, 30)))
        pack_lake(lake)
        assert len(keys(lake, partition)) <= 2
    assert len(keys(lake, partition)) == 2  # merged on the third run, a new pack on the fourth
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[8, -800]]


def test_r_an_1_a_pack_cut_short_before_its_deletes_loses_nothing_and_the_next_run_finishes_it(lake, monkeypatch):
    from analytics import pack

    land_each(*(tx("fee", -100, D, at(D, hour)) for hour in range(3)))
    partition = "raw/TransactionRecorded/v1/day=2026-11-26/"
    landed = keys(lake, partition)
    real_client = pack.client

    class CrashesOnDelete:
        def __init__(self, service):
            self._s3 = real_client(service)

        def __getattr__(self, name):
            if name == "delete_objects":
                raise RuntimeError("the function timed out")
            return getattr(self._s3, name)

    monkeypatch.setattr(pack, "client", CrashesOnDelete)
    with pytest.raises(RuntimeError):
        pack_lake(lake)
    assert len(keys(lake, partition)) == 4  # the pack and the three it packed: each event twice in the lake
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[3, -300]]  # read once
    monkeypatch.setattr(pack, "client", real_client)
    pack_lake(lake)
    assert len(keys(lake, partition)) == 1 and keys(lake, partition)[0] not in landed
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[3, -300]]


def test_r_an_4_a_copy_that_lists_objects_packed_before_it_downloads_them_lists_again(lake, monkeypatch):
    """A query's copy lists a partition's landed objects, a pack deletes them before they are downloaded:
    the copy lists again, finds the pack, and the query reads every event."""
    from analytics import lake as lake_module

    land_each(*(tx("fee", -100, D, at(D, hour)) for hour in range(3)))
    listing = lake_module.Mirror._list
    listed = []

    def packed_right_after_the_first_listing(self, *args):
        found = listing(self, *args)
        if not listed:
            pack_lake(lake)
        listed.append(sorted(found))
        return found

    monkeypatch.setattr(lake_module.Mirror, "_list", packed_right_after_the_first_listing)
    assert rows("SELECT count(*), sum(amount) FROM transactions") == [[3, -300]]
    assert len(listed[0]) == 3 and len(listed[1]) == 1 and lake_module.is_pack(listed[1][0])


# --- the query layer (R-AN-4) ------------------------------------------------------------------------------


def test_r_an_4_an_aggregate_over_logical_tables_is_answered_by_duckdb(lake, day_in_lake, monkeypatch):
    from analytics import query

    sql = """
        WITH earnings AS (
            SELECT business_day, -sum(amount) AS management FROM transactions
            WHERE kind IN ('fee', 'reward') GROUP BY business_day
        )
        SELECT e.business_day, e.management, count(DISTINCT t.task_id) AS tasks, max(t.jira_id) AS jira
        FROM earnings e
        JOIN transactions x ON x.business_day = e.business_day
        LEFT JOIN tasks t ON t.task_id = x.task_id
        GROUP BY e.business_day, e.management ORDER BY e.business_day
    """
    expected = [["2026-11-26", -2000, 1, "UP-7"], ["2026-11-27", 2300, 2, "UP-8"]]
    result = query.run(sql, max_rows=10, timeout_seconds=30)
    assert result.columns == ["business_day", "management", "tasks", "jira"]
    assert result.rows == expected and result.truncated is False and result.elapsed_ms >= 0
    compact(at(NEXT, 1), monkeypatch)
    assert query.run(sql, max_rows=10, timeout_seconds=30).rows == expected  # the same answer after compaction


def test_r_an_4_rows_are_bounded_and_values_have_one_shape(lake, day_in_lake):
    from analytics import query

    result = query.run("SELECT transaction_id, recorded_at, business_day FROM transactions ORDER BY recorded_at",
                       max_rows=2, timeout_seconds=30)  # fmt: skip
    assert result.truncated is True and len(result.rows) == 2
    assert result.rows[0][1:] == ["2026-11-26T09:05:00.000Z", "2026-11-26"]
    stamp = query.run("SELECT from_iso8601_timestamp('2026-11-27T10:00:00Z') AS t", max_rows=1, timeout_seconds=30)
    assert stamp.rows == [["2026-11-27T10:00:00.000Z"]]


def test_r_an_4_a_query_that_runs_too_long_raises_query_timeout(lake):
    from analytics import query

    slow = ("SELECT count(*) FROM UNNEST(sequence(1, 100000)) AS a(x) CROSS JOIN UNNEST(sequence(1, 100000)) AS b(y) "
            "CROSS JOIN UNNEST(sequence(1, 1000)) AS c(z)")  # fmt: skip
    started = time.monotonic()
    with pytest.raises(query.QueryTimeout):
        query.run(slow, max_rows=10, timeout_seconds=0.5)
    assert time.monotonic() - started < 2  # stopped, not waited for


@pytest.mark.parametrize(
    "sql",
    [
        "SELEC 1",
        "SELECT * FROM no_such_table",
        "SELECT 1; SELECT 2",
        "DELETE FROM transactions",
        "SELECT * FROM read_csv('/etc/passwd')",
    ],
)
def test_r_an_4_what_is_not_one_query_over_the_lake_fails_cleanly(lake, sql):
    from analytics import query

    with pytest.raises(query.QueryFailed):
        query.run(sql, max_rows=10, timeout_seconds=10)


def test_r_an_4_on_athena_the_expanded_sql_runs_in_the_workgroup_and_values_are_typed(lake, monkeypatch, emulator):
    from analytics import lake as lake_module
    from analytics import query, settings

    monkeypatch.setenv("ANALYTICS_QUERY_ENGINE", "athena")
    settings.get.cache_clear()
    athena = client("athena")
    workgroup = settings.get().athena_workgroup  # devstack provisions no Athena: made here as in AWS
    if workgroup not in {w["Name"] for w in athena.list_work_groups()["WorkGroups"]}:
        athena.create_work_group(
            Name=workgroup, Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{lake}/"}}
        )
    lake_module.write_watermark(lake, D)
    columns = [{"Name": n, "Type": t} for n, t in
               [("kind", "varchar"), ("n", "bigint"), ("avg", "double"), ("day", "date"), ("at", "timestamp"),
                ("ok", "boolean")]]  # fmt: skip
    header = {"Data": [{"VarCharValue": c["Name"]} for c in columns]}
    data = [
        {"Data": [{"VarCharValue": v} for v in ("fee", "3", "-1250.5", "2026-11-26", "2026-11-26 09:05:00.000",
                                                 "true")]},
        {"Data": [{"VarCharValue": "reward"}, {}, {"VarCharValue": "2"}, {}, {}, {"VarCharValue": "false"}]},
    ]  # fmt: skip
    request = urllib.request.Request(
        f"{emulator}/moto-api/static/athena/query-results", method="POST",
        data=json.dumps({"results": [{"rows": [header, *data], "column_info": columns}]}).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    result = query.run("SELECT kind, count(*) AS n FROM transactions GROUP BY kind", max_rows=1, timeout_seconds=10)
    assert result.columns == ["kind", "n", "avg", "day", "at", "ok"]
    assert result.rows == [["fee", 3, -1250.5, "2026-11-26", "2026-11-26T09:05:00.000Z", True]]
    assert result.truncated is True
    sent = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]
            for i in athena.list_query_executions()["QueryExecutionIds"]]  # fmt: skip
    ours = [q for q in sent if "curated_transactions" in q["Query"] and "raw_transaction_recorded_v1" in q["Query"]]
    assert ours and "'2026-11-26'" in ours[-1]["Query"]  # expanded around the watermark
    assert ours[-1]["WorkGroup"] == settings.get().athena_workgroup


# --- late events (R-AN-8) ------------------------------------------------------------------------------------


def test_r_an_8_a_redriven_event_for_a_compacted_day_shows_up_after_one_compaction_cycle(
    lake, day_in_lake, monkeypatch
):
    """A reward of D failed to land (a poison message, say), waited in the analytics dead-letter queue while D
    was compacted, and is redriven two days later: the next scheduled compaction puts it in D's tables."""
    from shared.ops import queues

    compact(at(NEXT, 1), monkeypatch)
    before = rows("SELECT count(*), sum(amount) FROM transactions WHERE business_day = DATE '2026-11-26'")
    assert before == [[3, 0]]
    late = tx("reward", 4200, D, at(D, 16))  # its event time is D's: it lands in D's raw partition
    sqs = client("sqs")
    source = sqs.create_queue(QueueName=f"analytics-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    dead = sqs.create_queue(QueueName=f"analytics-events-dlq-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=dead, MessageBody=json.dumps(bridge(late)))
    time.sleep(1.1)  # S3 keeps whole seconds: the redriven event lands in a later second than the partition
    assert queues.redrive(dead, source) == 1
    received = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10)["Messages"]
    from analytics import on_event

    assert on_event.lambda_handler(sqs_event(*(json.loads(m["Body"]) for m in received)), None) == {
        "batchItemFailures": []
    }
    assert rows("SELECT count(*) FROM transactions WHERE business_day = DATE '2026-11-26'") == [[3]]  # not yet

    cycle = compact(at(NEXT + timedelta(days=2), 1), monkeypatch)  # the nightly run, nothing else
    assert [d["day"] for d in cycle["late"]] == ["2026-11-26"]
    assert rows("SELECT count(*), sum(amount) FROM transactions WHERE business_day = DATE '2026-11-26'") == [[4, 4200]]
    assert len(curated(lake, "transactions", D)) == 4
    # S3 times are whole seconds, so an event of the partition's own second counts as late: the day is
    # compacted again at most until a partition is written in a later second than the event, then never
    time.sleep(1.1)
    compact(at(NEXT + timedelta(days=2), 2), monkeypatch)
    time.sleep(1.1)
    assert "late" not in compact(at(NEXT + timedelta(days=2), 3), monkeypatch)


# --- monthly roll-ups (rollup.py) ---------------------------------------------------------------------------

MONTH_END = date(2026, 11, 30)
DECEMBER = MONTH_END + timedelta(days=1)


def monthly(bucket: str, table: str) -> list[tuple]:
    """The rows of November's roll-up of one table, read straight from its Parquet object."""
    import duckdb

    from analytics import lake as lake_module

    body = client("s3").get_object(Bucket=bucket, Key=lake_module.monthly_key(table, MONTH_END))["Body"].read()
    path = lake_module.MIRROR_ROOT.parent / f"monthly-{table}.parquet"
    path.write_bytes(body)
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


def test_r_an_2_a_month_the_watermark_passed_is_rolled_up_and_read_instead_of_its_days(lake, monkeypatch):
    """November's last two days are closed and compacted: November becomes one file per table, which the
    logical tables read from then on; a late event of November's last day rolls it up again; a lake
    compacted before roll-ups existed gets its months rolled up by the next run."""
    from analytics import lake as lake_module

    eve = MONTH_END - timedelta(days=1)
    task = TaskCreatedV2(task_id=uuid.uuid4(), title="Polish the perch", jira_id="UP-9", created_by=ADMIN)
    land(
        stamped(task, at(eve, 9)),
        tx("fee", -1500, eve, at(eve, 9, 5), str(task.task_id)),
        closed(eve, at(MONTH_END, 0, 10), paid=0, total=0),
        tx("reward", 3500, MONTH_END, at(MONTH_END, 15), str(task.task_id)),
        tx("payout", -2000, MONTH_END, at(DECEMBER, 0, 20)),
        closed(MONTH_END, at(DECEMBER, 0, 21), paid=1, total=2000),
        tx("fee", -1100, DECEMBER, at(DECEMBER, 9)),  # December's: read raw
    )
    before = everything()
    outcome = compact(at(DECEMBER, 1), monkeypatch)
    assert [d["day"] for d in outcome["compacted"]] == ["2026-11-29", "2026-11-30"]
    assert outcome["rolled_up_through"] == "2026-11-30"
    state = lake_module.read_state(lake)
    assert state == lake_module.State(MONTH_END, MONTH_END, MONTH_END, state.revision) and state.revision
    assert keys(lake, "monthly/") == [
        f"monthly/{table}/month=2026-11/part-0.parquet"
        for table in ("account_balances", "account_days", "closed_days", "daily_totals", "tasks", "transactions")
    ]
    november = [(r[2], r[3]) for r in monthly(lake, "transactions")]
    assert november == [("fee", -1500), ("reward", 3500), ("payout", -2000)]
    assert everything() == before  # November from its roll-up, December raw: the same rows, none twice
    by_day = "SELECT business_day, sum(transactions), sum(amount) FROM daily_totals GROUP BY 1 ORDER BY 1"
    assert rows(by_day) == [["2026-11-29", 1, -1500], ["2026-11-30", 2, 1500], ["2026-12-01", 1, -1100]]

    time.sleep(1.1)  # S3 keeps whole seconds: the late event lands in a later second than the partitions
    land(tx("reward", 4200, MONTH_END, at(MONTH_END, 16)))  # redriven from the dead-letter queue
    cycle = compact(at(DECEMBER + timedelta(days=1), 1), monkeypatch)
    assert "2026-11-30" in [d["day"] for d in cycle["late"]]  # (and the eve: its raw window holds that day)
    assert len(monthly(lake, "transactions")) == 4  # the month rolled up again with it
    assert rows(by_day)[1] == ["2026-11-30", 3, 5700]

    # a lake compacted before roll-ups: a state without `rolled_up_through`, no monthly files
    after_late = everything()
    for key in keys(lake, "monthly/"):
        client("s3").delete_object(Bucket=lake, Key=key)
    lake_module.write_watermark(lake, MONTH_END)
    assert everything() == after_late  # read from the daily partitions
    caught_up = compact(at(DECEMBER + timedelta(days=1), 2), monkeypatch)
    assert caught_up["rolled_up_through"] == "2026-11-30" and len(keys(lake, "monthly/")) == 6
    assert everything() == after_late


def test_r_an_5_a_rolled_up_month_keeps_only_the_days_the_horizon_keeps(lake, monkeypatch):
    """The lifecycle expires each object a horizon after it was written; November's roll-up, written at its
    end, would keep its first days a month too long. Once the horizon reaches November, each run rolls it
    up again from the daily partitions the lifecycle has left, and deletes it once none is left."""
    from analytics import settings

    eve = MONTH_END - timedelta(days=1)
    land(
        tx("fee", -1500, eve, at(eve, 9, 5)),
        closed(eve, at(MONTH_END, 0, 10), paid=0, total=0),
        tx("fee", -1100, MONTH_END, at(MONTH_END, 9)),
        closed(MONTH_END, at(DECEMBER, 0, 21), paid=0, total=0),
    )
    assert compact(at(DECEMBER, 1), monkeypatch)["rolled_up_through"] == "2026-11-30"
    monkeypatch.setenv("ANALYTICS_HORIZON_DAYS", "3")
    settings.get.cache_clear()
    for key in keys(lake, "curated/"):  # the lifecycle expires the eve's partitions
        if "day=2026-11-29" in key:
            client("s3").delete_object(Bucket=lake, Key=key)
    trimmed = compact(at(date(2026, 12, 3), 1), monkeypatch)
    assert trimmed["trimmed"] == ["2026-11"]
    assert [(r[3], r[7]) for r in monthly(lake, "transactions")] == [(-1100, MONTH_END)]
    assert rows("SELECT business_day, amount FROM transactions") == [["2026-11-30", -1100]]
    for key in keys(lake, "curated/"):  # ... and then the month's last day's
        client("s3").delete_object(Bucket=lake, Key=key)
    compact(at(date(2026, 12, 4), 1), monkeypatch)
    assert keys(lake, "monthly/") == [] and rows("SELECT count(*) FROM transactions") == [[0]]


def booked(
    account: str, kind: str, amount: int, balance_after: int, when: datetime, day: date | None = None
) -> Envelope:
    data = TransactionRecordedV1(
        transaction_id=uuid.uuid4(), account_id=account, kind=kind, amount=amount, balance_after=balance_after,
        task_id=None, reason=kind, business_day=day or when.date(),
    )  # fmt: skip
    return stamped(data, when)


def test_r_an_3_popugs_in_the_red_read_the_month_end_before_the_day_and_the_days_after_it(lake, monkeypatch):
    """Each rolled-up month's end keeps every account's last balance (`account_balances`); the dashboard's
    popugs in the red as of a day read it and the days after it, not every day before, with the same
    answer; a late event of a rolled-up month writes the month ends again; a lake from before month ends
    (no `month_ends_through`) reads its days."""
    from analytics import lake as lake_module
    from analytics import queries, query, tables

    in_red_in_november, in_red_in_december, in_the_black = (str(uuid.uuid4()) for _ in range(3))
    eve = MONTH_END - timedelta(days=1)
    land(
        booked(in_red_in_november, "fee", -1500, -1500, at(eve, 9)),
        booked(in_red_in_december, "reward", 3500, 3500, at(eve, 10)),
        booked(in_the_black, "fee", -100, -100, at(eve, 11)),
        booked(in_the_black, "reward", 200, 100, at(eve, 12)),
        closed(eve, at(MONTH_END, 0, 10), paid=0, total=0),
        closed(MONTH_END, at(DECEMBER, 0, 21), paid=0, total=0),
        booked(in_red_in_december, "fee", -4000, -500, at(DECEMBER, 9)),  # December's: read raw
    )

    asked: list[str] = []
    run = query.run
    monkeypatch.setattr(query, "run", lambda sql, **options: asked.append(sql) or run(sql, **options))

    def in_red(day: date) -> int:
        return queries.dashboard(day).popugs_in_red

    def from_every_day(day: date) -> int:
        return rows(queries.dashboard_sql(day))[0][1]

    assert compact(at(DECEMBER, 1), monkeypatch)["rolled_up_through"] == "2026-11-30"
    assert lake_module.read_state(lake).month_ends_through == MONTH_END
    assert sorted(rows("SELECT account_id, as_of, balance_after FROM account_balances")) == sorted([
        [in_red_in_november, "2026-11-30", -1500], [in_red_in_december, "2026-11-30", 3500],
        [in_the_black, "2026-11-30", 100],
    ])  # fmt: skip
    assert in_red(DECEMBER) == from_every_day(DECEMBER) == 2
    assert "account_balances" in asked[-2]  # the dashboard's (the last: `from_every_day`'s)
    before_any = lake_module.month_end_before(eve, MONTH_END)  # October's end: none written, its days are read
    assert rows(queries.dashboard_sql(eve, before_any))[0][1] == from_every_day(eve) == 1
    read = tables.scans(queries.dashboard_sql(DECEMBER, MONTH_END), DECEMBER - timedelta(days=1), MONTH_END)
    assert "monthly_account_balances" in read and "monthly_account_days" not in read

    time.sleep(1.1)  # S3 keeps whole seconds: the late event lands in a later second than the partitions
    land(booked(in_the_black, "fee", -300, -200, at(MONTH_END, 16)))  # redriven from the dead-letter queue
    compact(at(DECEMBER + timedelta(days=1), 1), monkeypatch)
    assert in_red(DECEMBER) == from_every_day(DECEMBER) == 3

    for key in keys(lake, "monthly/account_balances/"):  # a lake from before month ends
        client("s3").delete_object(Bucket=lake, Key=key)
    lake_module.write_watermark(lake, MONTH_END, MONTH_END)
    assert in_red(DECEMBER) == 3 and "account_balances" not in asked[-1]
    compact(at(DECEMBER + timedelta(days=1), 2), monkeypatch)  # its next run writes them
    assert lake_module.read_state(lake).month_ends_through == MONTH_END
    assert len(keys(lake, "monthly/account_balances/")) == 1 and in_red(DECEMBER) == 3
