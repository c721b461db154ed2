"""The one query layer of analytics (R-AN-4): Athena SQL over the logical tables, bounded in rows and
time, answered by the engine the template chose (`ANALYTICS_QUERY_ENGINE`), so handlers never branch:

- "athena": the expanded SQL runs in the stack's workgroup over the Glue tables;
- "duckdb": the same SQL, translated by sqlglot, runs over views with the Glue tables' names that read
  a local mirror of the same S3 objects (devstack and tests, where there is no Athena).

Both give the same values: integers as int, floating and decimal numbers as float, booleans as bool,
dates as `YYYY-MM-DD`, timestamps as ISO 8601 in UTC with a `Z` (the events' format), the rest as text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analytics import lake, raw_rows, tables
from analytics.settings import get as settings
from shared import clock
from shared.aws import client
from shared.observability import logger

if TYPE_CHECKING:
    import duckdb

ATHENA_PAGE = 1000  # GetQueryResults' largest page
FINISHED = {"SUCCEEDED", "FAILED", "CANCELLED"}
INTERRUPT_GRACE_SECONDS = 1.0  # how long a timed-out DuckDB query may take to notice its interrupt


class QueryFailed(Exception):
    """The SQL is not a valid query, or the engine refused or failed it (the message says why)."""


class QueryTimeout(Exception):
    """The query did not finish in time; it was stopped."""


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool  # more rows than max_rows existed
    elapsed_ms: int


def run(sql: str, *, max_rows: int, timeout_seconds: float, state: lake.State | None = None) -> Result:
    """Run one SELECT (Athena dialect) over the analytics tables; at most `max_rows` rows come back. `state`:
    the compaction's, when the caller has read it to write the SQL."""
    started = time.monotonic()
    deadline = started + timeout_seconds
    shape = _shape(sql)
    if shape.error:
        raise QueryFailed(shape.error)
    state = state or lake.read_state(settings().lake_bucket)
    expanded = tables.expand(sql, state.compacted_through, state.rolled_up_through)
    engine = settings().analytics_query_engine
    if engine == "athena":
        columns, rows, truncated = _athena(expanded, max_rows, deadline)
    elif engine == "duckdb":
        if shape.table_function:
            raise QueryFailed("table functions are not available: query the analytics tables")
        columns, rows, truncated = _duckdb(sql, expanded, state, max_rows, deadline)
    else:
        raise QueryFailed(f"unknown analytics query engine {engine!r}")
    elapsed_ms = int((time.monotonic() - started) * 1000)
    logger.info("analytics query", engine=engine, rows=len(rows), truncated=truncated, elapsed_ms=elapsed_ms)
    return Result(columns=columns, rows=rows, truncated=truncated, elapsed_ms=elapsed_ms)


@dataclass(frozen=True)
class Shape:
    error: str | None  # why it cannot run at all
    table_function: bool  # reads a table function (`read_parquet(...)`): not on the local engine


@lru_cache(maxsize=tables.TRANSLATIONS_KEPT)  # a dashboard sends the same text again: parse it once
def _shape(sql: str) -> Shape:
    from sqlglot import exp

    try:
        tree = tables.parse(sql)
    except ValueError as error:
        return Shape(str(error), False)
    if not isinstance(tree, exp.Query):
        return Shape("only queries (SELECT, WITH ... SELECT, set operations) can run", False)
    return Shape(None, any(not isinstance(t.this, exp.Identifier) for t in tree.find_all(exp.Table)))


# --- Athena ---------------------------------------------------------------------------------------------


def _athena(sql: str, max_rows: int, deadline: float) -> tuple[list[str], list[list[Any]], bool]:
    athena = client("athena")
    query_id = athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": settings().glue_database},
        WorkGroup=settings().athena_workgroup,
    )["QueryExecutionId"]
    pause = 0.1
    while True:
        status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
        if status["State"] in FINISHED:
            break
        if time.monotonic() >= deadline:
            athena.stop_query_execution(QueryExecutionId=query_id)
            raise QueryTimeout(f"the query did not finish in time (Athena query {query_id} stopped)")
        time.sleep(max(0.0, min(pause, deadline - time.monotonic())))
        pause = min(pause * 2, 1.0)
    if status["State"] != "SUCCEEDED":
        raise QueryFailed(status.get("StateChangeReason") or f"the query was {status['State'].lower()}")
    columns: list[str] = []
    types: list[str] = []
    rows: list[list[Any]] = []
    params: dict[str, Any] = {"QueryExecutionId": query_id}
    first_page = True
    while len(rows) <= max_rows:
        page = athena.get_query_results(**params, MaxResults=min(ATHENA_PAGE, max_rows + 2 - len(rows)))
        if first_page:
            info = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            columns, types = [c["Name"] for c in info], [c["Type"].lower() for c in info]
        data = page["ResultSet"]["Rows"][1:] if first_page else page["ResultSet"]["Rows"]  # 1st row: header
        first_page = False
        rows += [[_athena_value(cell.get("VarCharValue"), kind) for cell, kind in zip(r["Data"], types, strict=False)]
                 for r in data]  # fmt: skip
        if "NextToken" not in page:
            break
        params["NextToken"] = page["NextToken"]
    return columns, rows[:max_rows], len(rows) > max_rows


def _athena_value(text: str | None, kind: str) -> Any:
    """Athena returns text; the column's type says what it was."""
    if text is None:
        return None
    if kind in {"tinyint", "smallint", "integer", "int", "bigint"}:
        return int(text)
    if kind in {"real", "float", "double"} or kind.startswith("decimal"):
        return float(text)
    if kind == "boolean":
        return text == "true"
    if kind.startswith("timestamp"):
        moment = text.removesuffix(" UTC")  # `timestamp with time zone` in UTC
        try:
            return clock.iso(datetime.fromisoformat(moment).replace(tzinfo=UTC))
        except ValueError:
            return text
    return text


# --- DuckDB over the local mirror -----------------------------------------------------------------------


@lru_cache(maxsize=tables.TRANSLATIONS_KEPT)  # pure, and a warm process sees the same SQL again
def to_duckdb(sql: str) -> str:
    import sqlglot

    return sqlglot.transpile(sql, read="athena", write="duckdb")[0]


def connect(root: Path, physical: Iterable[tables.PhysicalTable]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB where each physical table is a view over the mirror under `root`; in UTC,
    like Athena, so timestamps convert the same way."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"SET home_directory = {tables.quote(str(root))}")
    for table in physical:
        connection.execute(f'CREATE VIEW "{table.name}" AS {tables.duckdb_view_sql(table, root)}')
    return connection


def _lock_down(connection: duckdb.DuckDBPyConnection, root: Path) -> None:
    """Queries read the mirror and nothing else on this machine, and cannot undo that."""
    connection.execute(f"SET allowed_directories = [{tables.quote(str(root) + '/')}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")


# One DuckDB database per warm process, kept across queries: its views over every compacted table, the
# Parquet footers it has read (`parquet_metadata_cache`), so a query over a year of daily files does not
# open and parse 365 footers per table again (bench/analytics_queries.py: about 0.1 s a query), and the raw
# tables' rows parsed so far (raw_rows.py). It is made again when a compacted table gains or loses its first
# file (an empty table is a typed empty view), and dropped when a query had to be abandoned mid-run. Each
# query runs on a cursor of its own.
@dataclass(frozen=True)
class _Database:
    connection: duckdb.DuckDBPyConnection
    raw: dict[str, raw_rows.KeptRawRows]  # by physical table name


_shared: dict[tuple, _Database] = {}


def _database(root: Path) -> _Database:
    compacted = [t for t in tables.PHYSICAL.values() if t.format == "parquet"]
    shape = (str(root), tuple(tables.has_files(t, root) for t in compacted))
    database = _shared.get(shape)
    if database is None:
        for stale in _shared.values():
            stale.connection.close()
        _shared.clear()
        connection = connect(root, compacted)
        raw_tables = (t for t in tables.PHYSICAL.values() if t.format == "json")
        raw = {t.name: raw_rows.KeptRawRows(connection, root, t) for t in raw_tables}
        connection.execute("SET parquet_metadata_cache = true")
        _lock_down(connection, root)
        database = _shared[shape] = _Database(connection, raw)
    return database


def _forget_database() -> None:
    _shared.clear()  # the abandoned query's thread still holds it; it goes when that thread ends


def _duckdb(
    sql: str, expanded: str, state: lake.State, max_rows: int, deadline: float
) -> tuple[list[str], list[list[Any]], bool]:
    mirror = lake.Mirror(settings().lake_bucket)
    needs = tables.scans(sql, state.compacted_through, state.rolled_up_through)
    try:
        ranges = {tables.PHYSICAL[name].prefix: days for name, days in needs.items()}
        mirror.sync_all(ranges, deadline=deadline, revision=state.revision)
    except lake.MirrorIncomplete as incomplete:  # the next query goes on copying from there
        raise QueryTimeout(f"the query did not finish in time (copying the lake: {incomplete})") from None
    if time.monotonic() >= deadline:
        raise QueryTimeout("the query did not finish in time (copying the lake took it all)")
    database = _database(mirror.root)
    connection = database.connection.cursor()
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:  # parsing new raw files is part of the query's time, and stops with it
            for name, days in needs.items():
                if name in database.raw:
                    database.raw[name].refresh(connection, days)
            outcome["columns"], outcome["rows"] = _fetch(connection, to_duckdb(expanded), max_rows + 1)
        except Exception as error:  # handed to the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=execute, name="analytics-query", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    timed_out = worker.is_alive()
    if timed_out:
        connection.interrupt()  # DuckDB stops at its next check
        worker.join(INTERRUPT_GRACE_SECONDS)
    if not worker.is_alive():  # else the thread still holds it: it goes when the thread ends
        connection.close()
    else:
        _forget_database()
    if timed_out:
        raise QueryTimeout("the query did not finish in time (stopped)")
    if "error" in outcome:
        raise QueryFailed(str(outcome["error"]).split("\n")[0]) from outcome["error"]
    rows = [[_plain(v) for v in row] for row in outcome["rows"]]
    return list(outcome["columns"]), rows[:max_rows], len(rows) > max_rows


def _fetch(connection: duckdb.DuckDBPyConnection, sql: str, limit: int) -> tuple[list[str], list[tuple]]:
    """Run with the row bound inside the SQL so DuckDB stops early; bound once (binding reads the file
    lists of every table the query names: binding twice cost a quarter of a dashboard query). Zoned
    timestamps come back in UTC without a zone (Python would need pytz): only a query that returns one
    runs again with the casts."""
    bounded = f"SELECT * FROM ({sql}) LIMIT {limit}"  # noqa: S608 (sql: the query)
    cursor = connection.execute(bounded)
    kinds = [str(column[1]) for column in cursor.description]
    columns = [column[0] for column in cursor.description]
    if "TIMESTAMP WITH TIME ZONE" not in kinds:
        return columns, cursor.fetchall()
    select = ", ".join(
        f"CAST(#{i} AS TIMESTAMP)" if kind == "TIMESTAMP WITH TIME ZONE" else f"#{i}"
        for i, kind in enumerate(kinds, start=1)
    )
    return columns, connection.execute(f"SELECT {select} FROM ({sql}) LIMIT {limit}").fetchall()  # noqa: S608


def _plain(value: Any) -> Any:
    """DuckDB's Python values in the shapes Athena's are converted to."""
    if isinstance(value, datetime):
        return clock.iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
