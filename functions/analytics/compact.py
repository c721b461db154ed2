"""The nightly compaction (R-AN-2): each closed business day's rows, from the raw events, into one
Parquet file per curated table, then the watermark moves past that day.

A day is compacted once it is closed (its DayClosed event is in the lake) and settled: its UTC day is
over (tasks are partitioned by UTC creation day) and the close is SETTLE old, so events still in flight
land first. Its payouts must add up to the DayClosed totals; if not, some are still on their way (or
in the dead-letter queue) and the day waits, because a day compacted without them would hide them: the
logical tables read raw events only after the watermark. Days go in order, so the watermark never
skips one; each run stops before the Lambda timeout and the next one carries on.

Late events (R-AN-8): an event that lands after its day was compacted (redriven from a dead-letter queue,
delayed) lands in the raw partition of its own event time, inside the day's raw window, where the logical
tables no longer look. So each run first compacts again every compacted day of the last LATE_DAYS whose
raw window holds an object newer than the day's curated partition: the late event is in the logical
tables after one compaction cycle, without anyone rerunning anything.

Then each month whose last day the watermark has passed is rolled up (rollup.py: the month's partitions in
one file, which the logical tables read instead), and again when a late event changed one of its days; and
when any month was rolled up, every month end's balances are written again (tables.MONTH_ENDS), then
`month_ends_through` moves. Until then (seconds) a month end rolled up again reads as it was.

A run takes the revision out of the state before it writes anything and puts a new one in when it is done
(`lake.restate`): a warm query process copies the compacted zone once per revision (lake.Mirror.sync_all), and a
run cut short leaves the state without one, so queries list that zone again until a run ends. (Two runs at
once, the schedule's and an operator's: the first to end settles for both, and the other's later rewrites
are read once it ends too.)

Every partition is written whole with PutObject and built in a deterministic order, so a run that
crashed or ran twice leaves the same files. `{"day": "YYYY-MM-DD"}` compacts that day again (e.g. after
events were redriven from the dead-letter queue); `"force": true` skips the payout check.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from analytics import lake, query, rollup, tables
from analytics.settings import get as settings
from shared import clock
from shared.aws import client
from shared.observability import logger, tracer

SETTLE = timedelta(minutes=10)  # events of a day that are still in flight land well within this
# How late an event can land: the dead-letter queues keep a message 14 days, then someone redrives it.
LATE_DAYS = 16
RESERVE_MS = 60_000  # time left for one more day is at least this, or twice the slowest day so far
CLOSES = tables.LOGICAL["closed_days"]


@dataclass(frozen=True)
class Close:
    business_day: date
    closed_at: datetime
    popugs_paid: int
    total_paid: int


class Incomplete(RuntimeError):
    """The lake does not hold all of a day's rows yet."""


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = settings().lake_bucket
    mirror = lake.Mirror(bucket)
    state = lake.read_state(bucket)
    lake.restate(bucket, state, settled=False)  # a run under way: no revision, queries list the compacted zone
    if isinstance(event, dict) and event.get("day"):
        outcome = rerun(mirror, date.fromisoformat(event["day"]), state, force=bool(event.get("force")))
    else:
        outcome = catch_up(mirror, state, context)
    # done: the state as the run left it, with a new revision (a run cut short leaves none, so warm queries
    # keep listing the compacted zone until a run ends)
    lake.restate(bucket, lake.read_state(bucket), settled=True)
    return outcome


def catch_up(mirror: lake.Mirror, state: lake.State, context: Any) -> dict[str, Any]:
    """Compact again the days late events landed in, then the closed days after the watermark, in order,
    while they are settled and time remains; then roll up the months the watermark has passed."""
    late = recompact_late(mirror, state)
    outcome = _forward(mirror, state, context)
    watermark = date.fromisoformat(outcome["watermark"]) if outcome["watermark"] else None
    rolled = roll_up_months(mirror, lake.State(watermark, state.rolled_up_through, state.month_ends_through), context)
    trimmed = rollup.trim_expired(mirror, rolled, clock.now().date(), settings().analytics_horizon_days)
    rerolled = any(state.rolled_up_through and date.fromisoformat(d["day"]) <= state.rolled_up_through for d in late)
    if watermark is not None and (rolled != state.month_ends_through or rerolled or trimmed):
        rollup.roll_up_month_ends(mirror, rolled)
        lake.write_watermark(mirror.bucket, watermark, rolled, rolled)
    outcome = {**outcome, "rolled_up_through": _iso(rolled)}
    outcome |= {"trimmed": [f"{month:%Y-%m}" for month in trimmed]} if trimmed else {}
    return {**outcome, "late": late} if late else outcome


def recompact_late(mirror: lake.Mirror, state: lake.State) -> list[dict[str, Any]]:
    """Compact again each compacted day of the last LATE_DAYS with raw events newer than its partition
    (and roll its month up again if it was)."""
    watermark = state.compacted_through
    if watermark is None:
        return []
    first = watermark - timedelta(days=LATE_DAYS)
    closes = closed_days(mirror, first)
    done = []
    for day in stale_days(mirror.bucket, first, watermark, closes):
        try:
            rows = compact_day(mirror, closes[day])
        except Incomplete as error:
            logger.warning("late events not compacted yet", business_day=day.isoformat(), reason=str(error))
            continue
        logger.info("day compacted again for late events", business_day=day.isoformat(), rows=rows)
        done.append({"day": day.isoformat(), "rows": rows})
    for month in sorted({date.fromisoformat(d["day"]).replace(day=1) for d in done}):
        if state.rolled_up_through is not None and month <= state.rolled_up_through:
            rollup.roll_up(mirror, month)
    return done


def roll_up_months(mirror: lake.Mirror, state: lake.State, context: Any) -> date | None:
    """Roll up, in order, each month the watermark has passed that is not rolled up yet (from the lake's
    first compacted month for a lake compacted before roll-ups existed), moving `rolled_up_through`
    after each, while time remains; returns how far the roll-ups got."""
    rolled = state.rolled_up_through
    first = rollup.first_compacted_day(mirror.bucket) if rolled is None and state.compacted_through else None
    for month in rollup.months_to_roll(first, state):
        remaining = context.get_remaining_time_in_millis() if context else None
        if remaining is not None and remaining < RESERVE_MS:
            logger.info("roll-ups left for the next run", month=f"{month:%Y-%m}")
            break
        rollup.roll_up(mirror, month)
        rolled = lake.month_end(month)
        lake.write_watermark(mirror.bucket, state.compacted_through, rolled, state.month_ends_through)
    return rolled


def stale_days(bucket: str, first: date, last: date, closes: dict[date, Close]) -> list[date]:
    """The compacted days first..last with a raw object in their window written at or after their curated
    partition (S3 times are whole seconds: an event of the same second counts as late; compacting again
    is harmless)."""
    windows = {
        (table.name, day): table.raw_window(day, lake.event_day(closes[day].closed_at))
        for table in tables.LOGICAL_TABLES
        for day in closes
        if first <= day <= last
    }
    if not windows:
        return []
    written = {
        (table.name, day): moment
        for table in tables.LOGICAL_TABLES
        for day, moment in _modified(bucket, lake.curated_prefix(table.name), first, last).items()
    }
    earliest = min(start for start, _ in windows.values())
    latest = max(end for _, end in windows.values())
    stale: set[date] = set()
    for table in tables.LOGICAL_TABLES:
        for source in table.sources:
            landed = _modified(bucket, tables.PHYSICAL[source.table].prefix, earliest, latest)
            for raw_day, moment in landed.items():
                for (name, day), (start, end) in windows.items():
                    curated = written.get((name, day))
                    if name == table.name and start <= raw_day <= end and curated and moment >= curated:
                        stale.add(day)
    return sorted(stale)


def _modified(bucket: str, prefix: str, first: date, last: date) -> dict[date, datetime]:
    """Per `day=` partition of `prefix` from first to last: when its newest object was written."""
    newest: dict[date, datetime] = {}
    pages = (
        client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix=prefix, StartAfter=f"{prefix}day={first.isoformat()}")
    )
    for page in pages:
        for item in page.get("Contents", []):
            day = lake.day_of_key(prefix, item["Key"])
            if day is None:
                continue
            if day > last:
                return newest
            if day >= first:
                newest[day] = max(newest.get(day, item["LastModified"]), item["LastModified"])
    return newest


def _forward(mirror: lake.Mirror, state: lake.State, context: Any) -> dict[str, Any]:
    watermark, rolled = state.compacted_through, state.rolled_up_through
    now = clock.now()
    closes = closed_days(mirror, None if watermark is None else watermark + timedelta(days=1))
    day = watermark + timedelta(days=1) if watermark else min(closes, default=None)
    done: list[dict[str, Any]] = []
    waiting, slowest_ms = None, 0
    while day is not None and day in closes:
        if not settled(closes[day], now):
            waiting = f"{day} closed less than {SETTLE} ago, or its UTC day is not over"
            break
        remaining = context.get_remaining_time_in_millis() if context else None
        if remaining is not None and remaining < max(RESERVE_MS, 2 * slowest_ms):
            waiting = f"{day} left for the next run (time is running out)"
            break
        started = time.monotonic()
        try:
            rows = compact_day(mirror, closes[day])
        except Incomplete as error:
            waiting = str(error)
            logger.warning("day not compacted yet", business_day=day.isoformat(), reason=waiting)
            break
        lake.write_watermark(mirror.bucket, day, rolled, state.month_ends_through)
        watermark = day
        slowest_ms = max(slowest_ms, int((time.monotonic() - started) * 1000))
        done.append({"day": day.isoformat(), "rows": rows})
        day += timedelta(days=1)
    logger.info("compaction", compacted=[d["day"] for d in done], watermark=_iso(watermark), waiting=waiting)
    return {"compacted": done, "watermark": _iso(watermark), "waiting": waiting}


def rerun(mirror: lake.Mirror, day: date, state: lake.State, *, force: bool = False) -> dict[str, Any]:
    """Compact one closed day again (or for the first time, if it is the next one in order), and roll its
    month up again if it was."""
    watermark, rolled = state.compacted_through, state.rolled_up_through
    closes = closed_days(mirror, None if watermark is None else min(day, watermark + timedelta(days=1)))
    next_day = watermark + timedelta(days=1) if watermark else min(closes, default=None)
    refused = None
    if day not in closes:
        refused = f"{day} is not closed: no DayClosed event for it in the lake"
    elif next_day is not None and day > next_day:
        refused = f"days compact in order: {next_day} comes first"
    if refused:
        logger.warning("compaction refused", business_day=day.isoformat(), reason=refused)
        return {"compacted": [], "watermark": _iso(watermark), "refused": refused}
    try:
        rows = compact_day(mirror, closes[day], force=force)
    except Incomplete as error:
        return {"compacted": [], "watermark": _iso(watermark), "refused": str(error)}
    if rolled is not None and day <= rolled:
        rollup.roll_up(mirror, day)
        rollup.roll_up_month_ends(mirror, state.month_ends_through)
    if day == next_day:
        lake.write_watermark(mirror.bucket, day, rolled, state.month_ends_through)
        watermark = day
    logger.info("day compacted again", business_day=day.isoformat(), rows=rows, watermark=_iso(watermark))
    return {"compacted": [{"day": day.isoformat(), "rows": rows}], "watermark": _iso(watermark)}


def closed_days(mirror: lake.Mirror, since: date | None) -> dict[date, Close]:
    """The business days from `since` on whose DayClosed event is in the lake (the latest close wins)."""
    prefix = tables.PHYSICAL[CLOSES.sources[0].table].prefix
    first = since - timedelta(days=CLOSES.lead()) if since else None
    mirror.sync(prefix, first)
    found: dict[date, Close] = {}
    for path in sorted(mirror.path(prefix).glob("day=*/*.json")):
        landed = lake.day_of_key(prefix, path.relative_to(mirror.root).as_posix())
        if landed is None or (first is not None and landed < first):
            continue
        envelope = json.loads(path.read_text())
        data = envelope["data"]
        close = Close(
            business_day=date.fromisoformat(data["business_day"]),
            closed_at=datetime.fromisoformat(envelope["event_time"].replace("Z", "+00:00")),
            popugs_paid=int(data["popugs_paid"]),
            total_paid=int(data["total_paid"]),
        )
        if since is not None and close.business_day < since:
            continue
        known = found.get(close.business_day)
        if known is None or known.closed_at < close.closed_at:
            found[close.business_day] = close
    return found


def settled(close: Close, now: datetime) -> bool:
    midnight_after = datetime.combine(close.business_day + timedelta(days=1), datetime.min.time(), UTC)
    closed_at = close.closed_at if close.closed_at.tzinfo else close.closed_at.replace(tzinfo=UTC)
    return now >= max(midnight_after, closed_at) + SETTLE


def compact_day(mirror: lake.Mirror, close: Close, *, force: bool = False) -> dict[str, int]:
    """Write every curated partition of a closed day from the raw events; returns rows per table."""
    day, closed_on = close.business_day, lake.event_day(close.closed_at)
    sources: list[tables.PhysicalTable] = []
    for table in tables.LOGICAL_TABLES:
        first, last = table.raw_window(day, closed_on)
        for source in table.sources:
            mirror.sync(tables.PHYSICAL[source.table].prefix, first, last)
            sources.append(tables.PHYSICAL[source.table])
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="compact-") as scratch, query.connect(mirror.root, sources) as connection:
        files = {t.name: Path(scratch) / f"{t.name}.parquet" for t in tables.LOGICAL_TABLES}
        for table in tables.LOGICAL_TABLES:
            select = query.to_duckdb(tables.partition_sql(table, day, closed_on))
            connection.execute(f"COPY ({select}) TO {tables.quote(str(files[table.name]))} (FORMAT parquet)")
            rows[table.name] = _count(connection, files[table.name])
        for aggregate in tables.AGGREGATE_TABLES:  # from the base partition just written
            files[aggregate.name] = Path(scratch) / f"{aggregate.name}.parquet"
            rows_of_day = f"SELECT * FROM read_parquet({tables.quote(str(files[aggregate.base]))})"  # noqa: S608
            select = f"SELECT * FROM ({aggregate.over(rows_of_day)}) AS a ORDER BY {aggregate.order_by}"  # noqa: S608
            connection.execute(f"COPY ({query.to_duckdb(select)}) TO {tables.quote(str(files[aggregate.name]))} "
                               "(FORMAT parquet)")  # fmt: skip
            rows[aggregate.name] = _count(connection, files[aggregate.name])
        payouts = f"read_parquet({tables.quote(str(files['transactions']))}) WHERE kind = 'payout'"
        paid = connection.execute(f"SELECT count(*), coalesce(sum(-amount), 0) FROM {payouts}").fetchone()  # noqa: S608
        if paid != (close.popugs_paid, close.total_paid) and not force:
            raise Incomplete(
                f"{day}: the lake holds {paid[0]} payouts for {paid[1]} cents, its close paid "
                f"{close.popugs_paid} for {close.total_paid}: waiting for the missing events"
            )
        for name in files:
            client("s3").put_object(
                Bucket=mirror.bucket, Key=lake.curated_key(name, day), Body=files[name].read_bytes()
            )
    logger.info("day compacted", business_day=day.isoformat(), rows=rows)
    return rows


def _count(connection: Any, path: Path) -> int:
    return connection.execute(f"SELECT count(*) FROM read_parquet({tables.quote(str(path))})").fetchone()[0]  # noqa: S608


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
