"""The seeded year's analytics lake, in the layout `analytics.lake` defines and `analytics.compact` writes.

Every event of the year is first written to a local scratch copy of the raw layout (one JSON-lines file
per raw partition instead of one object per event). From it:
- raw objects are uploaded first (`upload_raw`) for the partitions from the watermark's eve on, and the staff
  and auth events: one pack per partition (`put_raw`'s lines, as analytics/pack.py leaves a partition);
- then each closed day the real system would have compacted by now (`compact.settled`) gets its curated
  Parquet partitions, built from the raw rows with the logical tables' own SQL (`tables.raw_rows`,
  `row_day`, `order_by`: the definitions the compaction runs) and its daily aggregates as `compact_day`
  builds them (`AGGREGATE_TABLES` over the day's base partition), and the watermark is set to the last one.
  Curated after raw: a raw object newer than its day's partition would read as a late event (R-AN-8).
The raw objects of older compacted days are not uploaded: the logical tables read curated partitions up to
the watermark, and two million single-event objects would hold the emulator's memory for nothing.
`raw_*` tables in the SQL console therefore start at the watermark's eve.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from devstack.seed.year import Day

STAFF_AND_AUTH = ("ates.staff", "ates.auth")
SCRATCH_FILE = "seed.json"
UPLOAD_THREADS = 8


class RawScratch:
    """A local copy of the raw layout, appended to as events are simulated (few files open at a time)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        self._open: dict[tuple[str, int, str], IO[str]] = {}
        self.count = 0

    def path(self, name: str, version: int, utc_day: str) -> Path:
        from analytics import lake

        return self.root / lake.partition(lake.raw_prefix(name, version), date.fromisoformat(utc_day)) / SCRATCH_FILE

    def add(self, envelope: dict[str, Any], line: str | None = None) -> None:
        """`line`: the envelope already as one line of JSON (the caller's, to serialise it once)."""
        # event_time is UTC ("...Z", year.iso): its first ten characters are the raw partition's day
        slot = (envelope["event_name"], envelope["event_version"], envelope["event_time"][:10])
        handle = self._open.get(slot)
        if handle is None:
            if len(self._open) >= 64:
                self.flush()
            path = self.path(*slot)
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = self._open[slot] = path.open("a")
        handle.write(line or json.dumps(envelope, separators=(",", ":")) + "\n")
        self.count += 1

    def flush(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()


def compacted_through(days: list[Day], now: datetime) -> date | None:
    """The last day of the unbroken run of closed days the nightly compaction would have done by `now`."""
    from analytics import compact

    last = None
    for day in days:
        close = compact.Close(day.day, day.closed_at, day.popugs_paid, day.total_paid)
        if not compact.settled(close, now):
            break
        last = day.day
    return last


def build(scratch: RawScratch, bucket: str, days: list[Day], now: datetime, s3: Any,
          say: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Curated partitions for the compacted days, the watermark, and the raw objects still read raw."""
    from analytics import lake, query, tables

    scratch.flush()
    watermark = compacted_through(days, now)
    # raw objects first: one written after its day's curated partition would read as a late event (R-AN-8)
    raw = upload_raw(scratch, bucket, watermark, s3)
    curated = 0
    if watermark is not None:
        compacted = [d.day for d in days if d.day <= watermark]
        raw_needed = {tables.PHYSICAL[s.table] for t in tables.LOGICAL_TABLES for s in t.sources}
        out = scratch.root.parent / "curated"
        out.mkdir(exist_ok=True)
        with query.connect(scratch.root, raw_needed) as connection:
            for table in tables.LOGICAL_TABLES:
                columns = ", ".join(c.name for c in table.columns)
                rows = query.to_duckdb(
                    f"SELECT {columns}, {table.row_day} AS seed_row_day FROM ({tables.raw_rows(table)}) AS pending"  # noqa: S608
                )
                connection.execute(f"CREATE TABLE seed_{table.name} AS {rows}")
                order = query.to_duckdb(f"SELECT 1 ORDER BY {table.order_by}").split("ORDER BY", 1)[1]
                for index, day in enumerate(compacted):
                    target = out / f"{table.name}-{day.isoformat()}.parquet"
                    connection.execute(
                        f"COPY (SELECT {columns} FROM seed_{table.name} WHERE seed_row_day = DATE "  # noqa: S608
                        f"'{day.isoformat()}' ORDER BY {order}) TO {tables.quote(str(target))} (FORMAT parquet)"
                    )
                    if index % 60 == 59:
                        say(f"lake: {table.name} compacted through {day}")
            for aggregate in tables.AGGREGATE_TABLES:  # as compact_day: from the base partition
                for day in compacted:
                    base = out / f"{aggregate.base}-{day.isoformat()}.parquet"
                    rows_of_day = f"SELECT * FROM read_parquet({tables.quote(str(base))})"  # noqa: S608
                    select = f"SELECT * FROM ({aggregate.over(rows_of_day)}) AS a ORDER BY {aggregate.order_by}"  # noqa: S608
                    target = out / f"{aggregate.name}-{day.isoformat()}.parquet"
                    connection.execute(
                        f"COPY ({query.to_duckdb(select)}) TO {tables.quote(str(target))} (FORMAT parquet)"
                    )
                say(f"lake: {aggregate.name} compacted")
        names = [t.name for t in tables.COMPACTED]
        uploads = [(lake.curated_key(name, d), out / f"{name}-{d.isoformat()}.parquet")
                   for name in names for d in compacted]  # fmt: skip
        rolled, monthly = roll_up(out, compacted, watermark)
        uploads += monthly
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            list(pool.map(lambda u: s3.put_object(Bucket=bucket, Key=u[0], Body=u[1].read_bytes()), uploads))
        curated = len(uploads)
        say(f"lake: {len(monthly)} monthly roll-ups through {rolled}")
        # through shared.aws.client: the same endpoint; settled, as a compaction run leaves it
        lake.write_watermark(bucket, watermark, rolled, rolled, settled=True)
    return {"watermark": watermark.isoformat() if watermark else None, "curated_objects": curated,
            "raw_events": raw, "events": scratch.count}  # fmt: skip


def roll_up(out: Path, compacted: list[date], watermark: date) -> tuple[date | None, list[tuple[str, Path]]]:
    """Each month the watermark has passed, rolled up as the compaction does (analytics/rollup.py) from the
    daily files in `out`, and its month-end tables: the last day rolled up, and the (key, file) of each."""
    from analytics import lake, query, rollup, tables

    months = rollup.months_to_roll(compacted[0] if compacted else None, lake.State(watermark))
    files: list[tuple[str, Path]] = []
    rolled = lake.month_end(months[-1]) if months else None
    with query.connect(out, ()) as connection:
        for month in months:
            for table in tables.COMPACTED:
                days = sorted(out.glob(f"{table.name}-{month:%Y-%m}-*.parquet"))
                target = out / f"monthly-{table.name}-{month:%Y-%m}.parquet"
                rollup.write_month(connection, table, days, target)
                files.append((lake.monthly_key(table.name, month), target))
        for table in tables.MONTH_ENDS.values() if rolled else ():
            base = {month: out / f"monthly-{table.base}-{month:%Y-%m}.parquet" for month in months}
            for month, path in rollup.write_month_ends(connection, table, base, rolled, out).items():
                files.append((lake.monthly_key(table.name, month), path))
    return rolled, files


def upload_raw(scratch: RawScratch, bucket: str, watermark: date | None, s3: Any) -> int:
    """The raw partitions from the watermark's eve on (what the logical tables read raw, and the raw windows of
    the last compacted days, so the compaction can redo them for a late event, R-AN-8), and every staff and auth
    event (the SQL console reads them raw, R-AN-7), each partition packed as the running stack packs it
    (analytics/pack.py: `put_raw`'s lines, each once, sorted, in one object named by its bytes). Returns how
    many events were uploaded."""
    from analytics import lake
    from shared.contracts import REGISTRY

    staff_and_auth = {c.name for c in REGISTRY.contracts if c.source in STAFF_AND_AUTH}
    since = watermark - timedelta(days=1) if watermark else None
    bodies: list[tuple[str, bytes]] = []
    events = 0
    for path in sorted(scratch.root.glob(f"raw/*/*/day=*/{SCRATCH_FILE}")):
        day = date.fromisoformat(path.parent.name.removeprefix("day="))
        if since is not None and day < since and path.parent.parent.parent.name not in staff_and_auth:
            continue
        body = lake.pack_body(json.dumps(json.loads(line), separators=(",", ":"), sort_keys=True)
                              for line in path.read_text().splitlines() if line.strip())  # fmt: skip
        bodies.append((lake.pack_key(path.parent.relative_to(scratch.root).as_posix() + "/", body), body))
        events += body.count(b"\n")
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(lambda b: s3.put_object(Bucket=bucket, Key=b[0], Body=b[1], ContentType="application/json"),
                      bodies))  # fmt: skip
    return events
