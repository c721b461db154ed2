"""Monthly roll-ups (lake.py: `monthly/<table>/month=YYYY-MM/part-0.parquet`): a month of each compacted
table's curated partitions in one Parquet file, read by the logical tables instead of the month's days.

Why: a query pays for every file it opens (a footer to read, a scan to schedule) whatever the file's
size, and a year of daily partitions is 365 small files per table. Over the bench's year
(bench/analytics_queries.py) the daily trends read 730 files and the dashboard 365; rolled up, 24 and 12.
Athena bills and plans per file in the same way.

A month is rolled up once the watermark has passed its last day, from the daily partitions (which stay:
they are what a late event re-compacts, R-AN-8, and the month is then rolled up again). The rows are the
daily files' rows, in the partitions' own order, so the same days always give the same file.

The horizon (R-AN-5) holds for roll-ups too. The bucket's lifecycle expires an object a horizon after it
was written, which for a month's file would keep its first days a month too long; so each run rolls up
again the months the horizon has reached, from the daily partitions the lifecycle has left, and deletes
a month's file once none is left.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from analytics import lake, query, tables
from shared.aws import client
from shared.observability import logger


def month_sql(table: tables.LogicalTable | tables.DailyAggregate, days: list[Path]) -> str:
    """DuckDB SQL: the rows of a month's daily partition files, ordered by day, then as inside a partition.
    (`row_day` and `order_by` are columns or casts, the same text in DuckDB as in Athena.)"""
    files = ", ".join(tables.quote(str(path)) for path in days)
    columns = ", ".join(c.name for c in table.columns)
    order = table.order_by if isinstance(table, tables.DailyAggregate) else f"{table.row_day}, {table.order_by}"
    return f"SELECT {columns} FROM read_parquet([{files}]) ORDER BY {order}"  # noqa: S608 (names from tables)


def write_month(connection: Any, table: tables.LogicalTable | tables.DailyAggregate, days: list[Path],
                target: Path) -> int:  # fmt: skip
    """Write the month's file from its daily partition files; returns its rows."""
    connection.execute(f"COPY ({month_sql(table, days)}) TO {tables.quote(str(target))} (FORMAT parquet)")
    return connection.execute(f"SELECT count(*) FROM read_parquet({tables.quote(str(target))})").fetchone()[0]  # noqa: S608


def roll_up(mirror: lake.Mirror, month: date) -> dict[str, int]:
    """Roll up `month` (any day of it) of every compacted table from the lake's curated partitions; returns
    rows per table. A table with no partition that month (a lake that started later, or whose days have
    all expired) has no file."""
    first, last = month.replace(day=1), lake.month_end(month)
    rows: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="rollup-") as scratch, query.connect(mirror.root, ()) as connection:
        for table in tables.COMPACTED:
            prefix = lake.curated_prefix(table.name)
            mirror.sync(prefix, first, last)
            days = sorted(mirror.path(prefix).glob(f"day={first:%Y-%m}-*/part-0.parquet"))
            if not days:
                client("s3").delete_object(Bucket=mirror.bucket, Key=lake.monthly_key(table.name, first))
                continue
            target = Path(scratch) / f"{table.name}.parquet"
            rows[table.name] = write_month(connection, table, days, target)
            client("s3").put_object(
                Bucket=mirror.bucket, Key=lake.monthly_key(table.name, first), Body=target.read_bytes()
            )
    logger.info("month rolled up", month=f"{first:%Y-%m}", rows=rows)
    return rows


def months_to_roll(first_compacted: date | None, state: lake.State) -> list[date]:
    """The months (their first days) whose last day the watermark has passed and that are not rolled up
    yet, in order: every month after `rolled_up_through`, or from the first compacted day's month."""
    watermark, rolled = state.compacted_through, state.rolled_up_through
    if watermark is None:
        return []
    month = (rolled + timedelta(days=1)) if rolled else first_compacted
    if month is None:
        return []
    month = month.replace(day=1)
    months = []
    while lake.month_end(month) <= watermark:
        months.append(month)
        month = lake.month_end(month) + timedelta(days=1)
    return months


def first_compacted_day(bucket: str) -> date | None:
    """The earliest curated partition of the lake (every compacted day has a `closed_days` partition)."""
    prefix = lake.curated_prefix("closed_days")
    listed = client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1).get("Contents", [])
    return lake.day_of_key(prefix, listed[0]["Key"]) if listed else None


def trim_expired(mirror: lake.Mirror, rolled: date | None, today: date, horizon_days: int) -> list[date]:
    """Roll up again each rolled-up month whose first day the horizon has reached (some of its days may
    have expired), so it holds only the days the lake still keeps; returns those months."""
    if rolled is None:
        return []
    reached = today - timedelta(days=horizon_days)
    listed = client("s3").get_paginator("list_objects_v2").paginate(Bucket=mirror.bucket, Prefix=lake.MONTHLY)
    months = set()
    for page in listed:
        for item in page.get("Contents", []):
            table = item["Key"][len(lake.MONTHLY) :].split("/", 1)[0]
            days = lake.days_of_key(lake.monthly_prefix(table), item["Key"])
            if days is not None and days[0] <= reached and days[1] <= rolled:
                months.add(days[0])
    for month in sorted(months):
        roll_up(mirror, month)
    return sorted(months)


# --- month-end tables (tables.MONTH_ENDS): each account's balance as of each rolled-up month's end ----------


def write_month_ends(connection: Any, table: tables.MonthEndTable, base: dict[date, Path], through: date,
                     out: Path) -> dict[date, Path]:  # fmt: skip
    """The table as of each month end from the base's first rolled-up month through `through`, from the
    base's monthly files up to that month (`base`: month -> file); a month without a file of its own (no
    transactions) still gets one. Returns month -> file written under `out`."""
    written: dict[date, Path] = {}
    month = min(base, default=None)
    while month is not None and lake.month_end(month) <= through:
        files = ", ".join(tables.quote(str(path)) for m, path in sorted(base.items()) if m <= month)
        target = out / f"{table.name}-{month:%Y-%m}.parquet"
        rows = f"read_parquet([{files}])"
        connection.execute(f"COPY ({table.sql(rows, lake.month_end(month))}) TO {tables.quote(str(target))} "
                           "(FORMAT parquet)")  # fmt: skip
        written[month] = target
        month = lake.month_end(month) + timedelta(days=1)
    return written


def roll_up_month_ends(mirror: lake.Mirror, through: date | None) -> list[date]:
    """Write every month-end table for each month rolled up through `through` (all of them: a month rolled
    up again changes every month end after it), and delete those of months no longer rolled up; returns
    the months written. Twelve months of a 1,000-popug company take well under a second."""
    written: list[date] = []
    s3 = client("s3")
    for table in tables.MONTH_ENDS.values():
        prefix = lake.monthly_prefix(table.base)
        mirror.sync(prefix, None, through)
        base = {
            days[0]: path
            for path in mirror.path(prefix).glob("month=*/part-0.parquet")
            if (days := lake.days_of_key(prefix, path.relative_to(mirror.root).as_posix()))
            and through is not None and days[1] <= through
        }  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="month-ends-") as scratch, query.connect(mirror.root, ()) as connection:
            files = write_month_ends(connection, table, base, through, Path(scratch)) if through else {}
            for month, path in files.items():
                s3.put_object(Bucket=mirror.bucket, Key=lake.monthly_key(table.name, month), Body=path.read_bytes())
        kept = {lake.monthly_key(table.name, month) for month in files}
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=mirror.bucket, Prefix=lake.monthly_prefix(table.name)
        )
        for key in [item["Key"] for page in pages for item in page.get("Contents", []) if item["Key"] not in kept]:
            s3.delete_object(Bucket=mirror.bucket, Key=key)  # a month no longer rolled up (expired, R-AN-5)
        written = sorted(set(written) | set(files))
    logger.info("month ends written", months=[f"{m:%Y-%m}" for m in written])
    return written
