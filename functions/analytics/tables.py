"""The analytics tables, defined once (R-AN-1, R-AN-2, R-AN-4): the Glue tables of the template are
generated from here (schemas/generate.py), the compaction builds its Parquet partitions from here, and
every query is expanded from here, on Athena and on DuckDB alike.

Three layers:
- raw tables, one per registered event name and version (`raw_<snake_name>_v<n>`, JSON, partitioned by
  the event's UTC day): columns = the envelope, `data` a struct typed by the contract's model;
- curated tables (`curated_<logical>`, Parquet, one partition per compacted day), and their monthly
  roll-ups (`monthly_<logical>`, one partition per month: the same rows, a twelfth of the files a year);
- LOGICAL tables (`transactions`, `tasks`, `closed_days`): the only names dashboards and the SQL
  console use. Each is its monthly roll-ups through the last month rolled up, UNION ALL its curated rows
  after that up to the compaction watermark, UNION ALL the same columns extracted from the raw events
  for what is not compacted yet, so a query sees every landed event
  whether or not its day was compacted, and never sees one twice.

Which raw days hold the rows of a (business) day D: a transaction's business day is the first open day
at or after the moment it is recorded (R-ACC-2), in the business timezone. So a payout of D is recorded
after midnight (on D+1, or days later if the close was late), and a fee recorded on W belongs to W+1
when W was closed early (days close up to today at the latest, so never two ahead); in a timezone ahead
of UTC (up to UTC+14) the UTC date can be one day earlier still. Hence a row of business day D can only be
in raw days D-2 .. <the day D was closed>+1, and the rows after a watermark W are found in raw days >= W-1,
filtered on the row's own business day; in a business timezone never ahead of UTC (UTC itself, the
Americas) one day fewer: D-1 .., and >= W (`LogicalTable.lead`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from analytics import lake
from analytics.settings import business_timezone
from shared.contracts import REGISTRY, Contract

if TYPE_CHECKING:
    from sqlglot import exp

DAY = "day"  # the partition column of the physical tables (a yyyy-MM-dd string, projected by Athena)
MONTH = "month"  # ... and of the monthly roll-ups (a yyyy-MM string)
ENVELOPE_COLUMNS = (
    ("event_id", "string"),
    ("event_name", "string"),
    ("event_version", "int"),
    ("event_time", "string"),
    ("producer", "string"),
    ("correlation_id", "string"),
)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # the Hive type Glue declares (`string`, `bigint`, `struct<a:string>`...)


@dataclass(frozen=True)
class PhysicalTable:
    """A table over one prefix of the lake, partitioned by `day` (or by `month`, a roll-up)."""

    name: str
    prefix: str
    columns: tuple[Column, ...]
    format: Literal["json", "parquet"]
    description: str
    partition: Literal["day", "month"] = DAY


@dataclass(frozen=True)
class Source:
    """One raw table feeding a logical table, with the Athena expression (over alias `r`) of each column."""

    table: str
    select: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LogicalTable:
    name: str
    description: str
    columns: tuple[Column, ...]
    sources: tuple[Source, ...]
    row_day: str  # Athena expression over the logical columns: the day whose partition holds the row
    order_by: str  # a deterministic order inside a partition (re-runs write the same file)
    lead_days: int  # how many days before its row day a row's event can be recorded (UTC), at most
    until_close: bool  # rows of day D can be recorded until D is closed (+1 day of clock skew)
    zone_lead: bool = False  # one of the lead days is for a business timezone ahead of UTC (see `lead`)

    @property
    def curated(self) -> str:
        return f"curated_{self.name}"

    @property
    def monthly(self) -> str:
        return f"monthly_{self.name}"

    def lead(self) -> int:
        """How many days before its row day a row's event can be recorded (UTC) in this deployment: one
        day fewer than the most when the business timezone is never ahead of UTC (a business day starts
        on its own UTC date there), so a query after the watermark reads one raw day less."""
        return self.lead_days - (1 if self.zone_lead and not zone_ahead_of_utc(business_timezone()) else 0)

    def raw_window(self, day: date, closed_on: date) -> tuple[date, date]:
        """The raw partitions that can hold rows of `day` (closed on `closed_on`, a UTC date)."""
        last = max(day, closed_on + timedelta(days=1)) if self.until_close else day
        return day - timedelta(days=self.lead()), last


@cache
def zone_ahead_of_utc(zone: str) -> bool:
    """Whether the timezone is ahead of UTC at some moment of the next two years (summer time included)."""
    start = datetime.now(UTC)
    offsets = ((start + timedelta(days=days)).astimezone(ZoneInfo(zone)).utcoffset() for days in range(0, 731, 7))
    return any(offset is not None and offset > timedelta(0) for offset in offsets)


# --- raw tables: typed from the contracts --------------------------------------------------------------


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def raw_table_name(event_name: str, version: int) -> str:
    return f"raw_{snake(event_name)}_v{version}"


def hive_type(schema: dict[str, Any], definitions: dict[str, Any]) -> str:
    """The Hive type of a JSON Schema (pydantic's): dates and times stay strings (the SerDe reads text),
    a nullable type is its non-null type (every Hive column is nullable)."""
    if "$ref" in schema:
        return hive_type(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
    if "anyOf" in schema:
        kinds = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(kinds) != 1:
            raise ValueError(f"no Hive type for a union of {kinds}")
        return hive_type(kinds[0], definitions)
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        fields = ",".join(f"{name}:{hive_type(s, definitions)}" for name, s in schema["properties"].items())
        return f"struct<{fields}>"
    if kind == "array":
        return f"array<{hive_type(schema['items'], definitions)}>"
    simple = {"string": "string", "integer": "bigint", "number": "double", "boolean": "boolean"}
    if kind in simple:
        return simple[kind]
    raise ValueError(f"no Hive type for JSON Schema {schema}")


def raw_table(contract: Contract) -> PhysicalTable:
    schema = contract.model.model_json_schema()
    data = hive_type(schema, schema.get("$defs", {}))
    return PhysicalTable(
        name=raw_table_name(contract.name, contract.version),
        prefix=lake.raw_prefix(contract.name, contract.version),
        columns=(*(Column(n, t) for n, t in ENVELOPE_COLUMNS), Column("data", data)),
        format="json",
        description=f"{contract.name} v{contract.version} events from {contract.source}, as landed (by UTC day)",
    )


# --- logical tables ------------------------------------------------------------------------------------

RECORDED_AT = "CAST(from_iso8601_timestamp(r.event_time) AS TIMESTAMP)"
JIRA = r"^\s*\[([A-Z][A-Z0-9]+-\d+)\]\s*(.*?)\s*$"  # the v1 -> v2 upcast's split (tasks.JIRA_IN_TITLE)
HAS_JIRA = f"regexp_like(r.data.title, '{JIRA}')"


def _columns(*pairs: tuple[str, str]) -> tuple[Column, ...]:
    return tuple(Column(n, t) for n, t in pairs)


LOGICAL_TABLES: tuple[LogicalTable, ...] = (
    LogicalTable(
        name="transactions",
        description="Every ledger transaction (fees, rewards, payouts), by business day",
        columns=_columns(
            ("transaction_id", "string"),
            ("account_id", "string"),
            ("kind", "string"),
            ("amount", "bigint"),
            ("balance_after", "bigint"),
            ("task_id", "string"),
            ("reason", "string"),
            ("business_day", "date"),
            ("recorded_at", "timestamp"),
        ),
        sources=(
            Source(
                raw_table_name("TransactionRecorded", 1),
                (
                    ("transaction_id", "r.data.transaction_id"),
                    ("account_id", "r.data.account_id"),
                    ("kind", "r.data.kind"),
                    ("amount", "CAST(r.data.amount AS BIGINT)"),
                    ("balance_after", "CAST(r.data.balance_after AS BIGINT)"),
                    ("task_id", "r.data.task_id"),
                    ("reason", "r.data.reason"),
                    ("business_day", "CAST(r.data.business_day AS DATE)"),
                    ("recorded_at", RECORDED_AT),
                ),
            ),
        ),
        row_day="business_day",
        order_by="recorded_at, transaction_id",
        lead_days=2,
        until_close=True,
        zone_lead=True,
    ),
    LogicalTable(
        name="tasks",
        description="Every task as created (TaskCreated v1 read as v2: the jira id split out of the title)",
        columns=_columns(
            ("task_id", "string"),
            ("title", "string"),
            ("jira_id", "string"),
            ("created_by", "string"),
            ("created_at", "timestamp"),
        ),
        sources=(
            Source(
                raw_table_name("TaskCreated", 1),
                (
                    ("task_id", "r.data.task_id"),
                    (
                        "title",
                        f"CASE WHEN {HAS_JIRA} THEN regexp_extract(r.data.title, '{JIRA}', 2) ELSE r.data.title END",
                    ),
                    ("jira_id", f"CASE WHEN {HAS_JIRA} THEN regexp_extract(r.data.title, '{JIRA}', 1) END"),
                    ("created_by", "r.data.created_by"),
                    ("created_at", RECORDED_AT),
                ),
            ),
            Source(
                raw_table_name("TaskCreated", 2),
                (
                    ("task_id", "r.data.task_id"),
                    ("title", "r.data.title"),
                    ("jira_id", "r.data.jira_id"),
                    ("created_by", "r.data.created_by"),
                    ("created_at", RECORDED_AT),
                ),
            ),
        ),
        row_day="CAST(created_at AS DATE)",
        order_by="created_at, task_id",
        lead_days=0,
        until_close=False,
    ),
    LogicalTable(
        name="closed_days",
        description="Every closed business day with its payout totals",
        columns=_columns(
            ("business_day", "date"), ("popugs_paid", "bigint"), ("total_paid", "bigint"), ("popugs_in_red", "bigint")
        ),
        sources=(
            Source(
                raw_table_name("DayClosed", 1),
                (
                    ("business_day", "CAST(r.data.business_day AS DATE)"),
                    ("popugs_paid", "CAST(r.data.popugs_paid AS BIGINT)"),
                    ("total_paid", "CAST(r.data.total_paid AS BIGINT)"),
                    ("popugs_in_red", "CAST(r.data.popugs_in_red AS BIGINT)"),
                ),
            ),
        ),
        row_day="business_day",
        order_by="business_day",
        lead_days=2,
        until_close=True,
        zone_lead=True,
    ),
)
LOGICAL: dict[str, LogicalTable] = {t.name: t for t in LOGICAL_TABLES}


# --- daily aggregates: what the dashboards read over a year -------------------------------------------------


@dataclass(frozen=True)
class DailyAggregate:
    """A logical table of per-business-day aggregates of a logical table's rows, compacted with the day (one
    small Parquet partition each) and computed from the raw rows for the days after the watermark. The
    dashboards read these instead of a year of transactions (bench/analytics_queries.py: a year of daily
    trends reads 365 x 3 rows instead of a million); metrics may too. `sql` is Athena SQL over `{rows}`,
    the base table's rows of some days, giving whole groups of each business day."""

    name: str
    description: str
    columns: tuple[Column, ...]
    base: str
    sql: str
    order_by: str

    @property
    def curated(self) -> str:
        return f"curated_{self.name}"

    @property
    def monthly(self) -> str:
        return f"monthly_{self.name}"

    def over(self, rows: str) -> str:
        return self.sql.replace("{rows}", f"({rows})")


AGGREGATE_TABLES: tuple[DailyAggregate, ...] = (
    DailyAggregate(
        name="daily_totals",
        description="Per business day and kind: how many transactions and their sum (signed cents)",
        columns=_columns(
            ("business_day", "date"), ("kind", "string"), ("transactions", "bigint"), ("amount", "bigint")
        ),
        base="transactions",
        sql="SELECT business_day, kind, count(*) AS transactions, sum(amount) AS amount FROM {rows} AS t "
        "GROUP BY business_day, kind",
        order_by="business_day, kind",
    ),
    DailyAggregate(
        name="account_days",
        description="Per account and business day: its last transaction (by time, then id) and the balance after it",
        columns=_columns(
            ("account_id", "string"),
            ("business_day", "date"),
            ("last_recorded_at", "timestamp"),
            ("last_transaction_id", "string"),
            ("balance_after", "bigint"),
            ("transactions", "bigint"),
        ),
        base="transactions",
        sql="SELECT account_id, business_day, recorded_at AS last_recorded_at, transaction_id AS last_transaction_id, "
        "balance_after, transactions FROM (SELECT account_id, business_day, recorded_at, transaction_id, "
        "balance_after, count(*) OVER (PARTITION BY account_id, business_day) AS transactions, row_number() OVER "
        "(PARTITION BY account_id, business_day ORDER BY recorded_at DESC, transaction_id DESC) AS newest "
        "FROM {rows} AS t) AS d WHERE newest = 1",
        order_by="account_id, business_day",
    ),
)
AGGREGATES: dict[str, DailyAggregate] = {t.name: t for t in AGGREGATE_TABLES}


# --- month-end tables: each account's last balance as of each rolled-up month's end -----------------------


@dataclass(frozen=True)
class MonthEndTable:
    """Per rolled-up month, each `key`'s newest row (by `newest`) of a daily aggregate through that month's
    end, `as_of` the month's last day: one row per account a month, written with the roll-ups (rollup.py),
    read straight from its monthly partitions (no curated or raw side: it exists for rolled-up months only).

    Why: "each account's balance as of a day" otherwise reads every day of the lake up to that day: the
    dashboard's popugs in the red (queries.dashboard_sql) read a year of `account_days` (300,000 rows over
    12 files) on a year-old lake against a few on a new one. From the month-end before the day, it reads
    one month-end (1,000 rows) and the days after it, whatever the lake's age."""

    name: str
    description: str
    columns: tuple[Column, ...]
    base: str  # the daily aggregate it is made of
    key: str
    newest: str  # the base's order whose first row per key is the newest

    @property
    def monthly(self) -> str:
        return f"monthly_{self.name}"

    def sql(self, rows: str, as_of: date) -> str:
        """Athena (and DuckDB) SQL: the table's rows as of `as_of` from `rows`, the base's rows up to then."""
        day = f"DATE '{as_of.isoformat()}'"
        kept = ", ".join(c.name for c in self.columns if c.name != "as_of")
        columns = ", ".join(f"{day} AS as_of" if c.name == "as_of" else c.name for c in self.columns)
        newest = f"row_number() OVER (PARTITION BY {self.key} ORDER BY {self.newest}) AS place"
        return (
            f"SELECT {columns} FROM (SELECT {kept}, {newest} FROM {rows} AS b WHERE business_day <= {day}) AS n "  # noqa: S608
            f"WHERE place = 1 ORDER BY {self.key}"
        )

    def month_sql(self) -> str:
        """The logical table: its monthly partitions, as they are."""
        columns = ", ".join(c.name for c in self.columns)
        return f"SELECT {columns} FROM {self.monthly}"  # noqa: S608 (names from this module)


BALANCES = MonthEndTable(
    name="account_balances",
    description="Per account, as of each rolled-up month's last day (`as_of`): its last transaction and balance",
    columns=_columns(
        ("account_id", "string"),
        ("as_of", "date"),
        ("last_recorded_at", "timestamp"),
        ("last_transaction_id", "string"),
        ("balance_after", "bigint"),
    ),
    base="account_days",
    key="account_id",
    newest="last_recorded_at DESC, last_transaction_id DESC",
)
MONTH_ENDS: dict[str, MonthEndTable] = {BALANCES.name: BALANCES}


# --- slices (R-AN-7): each popug's and department's state as of any moment --------------------------------


@dataclass(frozen=True)
class HistoryTable:
    """A logical table of an entity's versions with the moment each held (`valid_from` inclusive, `valid_to`
    exclusive, null for the current one), from data events carrying the entity's whole state and a
    growing `version` (SPEC §9): a metric joins money and tasks to it `ON t.recorded_at >= valid_from AND
    (valid_to IS NULL OR t.recorded_at < valid_to)`. Read from the raw events whole (staff events are a
    few thousand a year; they are not compacted); a version delivered twice counts once (its first
    moment); a version that ends the entity (a dismissal) ends the version before it and is no row."""

    name: str
    description: str
    key: str
    columns: tuple[Column, ...]
    versions: tuple[Source, ...]  # each with `version`, `valid_from`, `ends` and the state columns
    state: tuple[str, ...]

    def sql(self) -> str:
        state = ", ".join(self.state)
        # Every name and expression in these statements is defined in this module, none by a caller.
        selects = " UNION ALL ".join(
            f"SELECT {', '.join(f'{e} AS {c}' for c, e in s.select)} FROM {s.table} AS r"  # noqa: S608
            for s in self.versions
        )
        versions = (
            f"SELECT {self.key}, version, {state}, ends, min(valid_from) AS valid_from FROM ({selects}) AS v "  # noqa: S608
            f"GROUP BY {self.key}, version, {state}, ends"
        )
        timed = (
            f"SELECT {self.key}, version, {state}, ends, valid_from, "  # noqa: S608
            f"lead(valid_from) OVER (PARTITION BY {self.key} ORDER BY version) AS valid_to FROM ({versions}) AS w"
        )
        columns = ", ".join(c.name for c in self.columns)
        return f"SELECT {columns} FROM ({timed}) AS h WHERE NOT ends"  # noqa: S608


EVENT_TIME = "CAST(from_iso8601_timestamp(r.event_time) AS TIMESTAMP)"


def _employee_state(table: str) -> Source:
    return Source(table, (
        ("employee_id", "r.data.employee_id"), ("version", "CAST(r.data.version AS BIGINT)"),
        ("name", "r.data.name"), ("position", "r.data.position"), ("department_id", "r.data.department_id"),
        ("ends", "false"), ("valid_from", EVENT_TIME),
    ))  # fmt: skip


HISTORY_TABLES: tuple[HistoryTable, ...] = (
    HistoryTable(
        name="employee_history",
        description="Each popug's name, position and department as of any moment (from staff events)",
        key="employee_id",
        columns=_columns(
            ("employee_id", "string"),
            ("version", "bigint"),
            ("name", "string"),
            ("position", "string"),
            ("department_id", "string"),
            ("valid_from", "timestamp"),
            ("valid_to", "timestamp"),
        ),
        state=("name", "position", "department_id"),
        versions=(
            _employee_state(raw_table_name("EmployeeHired", 1)),
            _employee_state(raw_table_name("EmployeeUpdated", 1)),
            Source(
                raw_table_name("EmployeeDismissed", 1),
                (
                    ("employee_id", "r.data.employee_id"),
                    ("version", "CAST(r.data.version AS BIGINT)"),
                    ("name", "CAST(NULL AS VARCHAR)"),
                    ("position", "CAST(NULL AS VARCHAR)"),
                    ("department_id", "CAST(NULL AS VARCHAR)"),
                    ("ends", "true"),
                    ("valid_from", EVENT_TIME),
                ),
            ),
        ),
    ),
    HistoryTable(
        name="department_history",
        description="Each department's name, parent and head as of any moment (from staff events)",
        key="department_id",
        columns=_columns(
            ("department_id", "string"),
            ("version", "bigint"),
            ("name", "string"),
            ("parent_id", "string"),
            ("head_id", "string"),
            ("valid_from", "timestamp"),
            ("valid_to", "timestamp"),
        ),
        state=("name", "parent_id", "head_id"),
        versions=(
            Source(
                raw_table_name("DepartmentChanged", 1),
                (
                    ("department_id", "r.data.department_id"),
                    ("version", "CAST(r.data.version AS BIGINT)"),
                    ("name", "r.data.name"),
                    ("parent_id", "r.data.parent_id"),
                    ("head_id", "r.data.head_id"),
                    ("ends", "r.data.deleted"),
                    ("valid_from", EVENT_TIME),
                ),
            ),
        ),
    ),
)
HISTORY: dict[str, HistoryTable] = {t.name: t for t in HISTORY_TABLES}
QUERYABLE: tuple[str, ...] = (*LOGICAL, *AGGREGATES, *MONTH_ENDS, *HISTORY)  # what the console may read


def curated_table(table: LogicalTable | DailyAggregate) -> PhysicalTable:
    return PhysicalTable(
        name=table.curated,
        prefix=lake.curated_prefix(table.name),
        columns=table.columns,
        format="parquet",
        description=f"{table.description}; compacted per day (read through the logical table `{table.name}`)",
    )


def monthly_table(table: LogicalTable | DailyAggregate | MonthEndTable) -> PhysicalTable:
    return PhysicalTable(
        name=table.monthly,
        prefix=lake.monthly_prefix(table.name),
        columns=table.columns,
        format="parquet",
        description=f"{table.description}; rolled up per month (read through the logical table `{table.name}`)",
        partition=MONTH,
    )


COMPACTED: tuple[LogicalTable | DailyAggregate, ...] = (*LOGICAL_TABLES, *AGGREGATE_TABLES)
RAW_TABLES: tuple[PhysicalTable, ...] = tuple(raw_table(c) for c in REGISTRY.contracts)
CURATED_TABLES: tuple[PhysicalTable, ...] = tuple(curated_table(t) for t in COMPACTED)
MONTHLY_TABLES: tuple[PhysicalTable, ...] = tuple(monthly_table(t) for t in (*COMPACTED, *MONTH_ENDS.values()))
PHYSICAL: dict[str, PhysicalTable] = {t.name: t for t in (*RAW_TABLES, *CURATED_TABLES, *MONTHLY_TABLES)}


# --- SQL (Athena dialect) --------------------------------------------------------------------------------


def _select(table: LogicalTable, source: Source) -> str:
    expressions = dict(source.select)
    return ", ".join(f"{expressions[c.name]} AS {c.name}" for c in table.columns)


def raw_rows(table: LogicalTable, first: date | None = None, last: date | None = None) -> str:
    """The table's columns from its raw sources, reading only the raw days between `first` and `last`."""
    bounds = [f"r.\"{DAY}\" >= '{first.isoformat()}'"] if first else []
    bounds += [f"r.\"{DAY}\" <= '{last.isoformat()}'"] if last else []
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    selects = (f"SELECT {_select(table, s)} FROM {s.table} AS r{where}" for s in table.sources)  # noqa: S608
    return " UNION ALL ".join(selects)


def pending_sql(table: LogicalTable, watermark: date | None) -> str:
    """The table's rows not compacted yet (all of them without a watermark), each once."""
    columns = ", ".join(c.name for c in table.columns)
    if watermark is None:
        return f"SELECT DISTINCT {columns} FROM ({raw_rows(table)}) AS pending"  # noqa: S608
    first = watermark + timedelta(days=1 - table.lead())
    after = f"{table.row_day} > DATE '{watermark.isoformat()}'"
    return f"SELECT DISTINCT {columns} FROM ({raw_rows(table, first)}) AS pending WHERE {after}"  # noqa: S608


MONTHLY_PART, CURATED_PART, PENDING_PART = "monthly", "curated", "pending"
EVERY_PART = (MONTHLY_PART, CURATED_PART, PENDING_PART)


def parts(
    watermark: date | None, rolled: date | None, first: date | None = None, last: date | None = None
) -> tuple[str, ...]:
    """Which sides of a logical table's union can hold rows of the days first..last (None: open): the
    monthly roll-ups (days through `rolled`), the curated days (after `rolled`, through the watermark),
    the raw rows (after the watermark). A side that cannot is left out of the query altogether: nothing
    of it is listed, mirrored or parsed (over a year, the raw JSON after the watermark was a fifth of a
    compacted dashboard query that asked for the watermark's day)."""
    if watermark is None:
        return (PENDING_PART,)
    sides = []
    if rolled is not None and (first is None or first <= rolled):
        sides.append(MONTHLY_PART)
    after_rolled = rolled is None or (rolled < watermark and (last is None or last > rolled))
    if after_rolled and (first is None or first <= watermark):
        sides.append(CURATED_PART)
    if last is None or last > watermark:
        sides.append(PENDING_PART)
    return tuple(sides) or (PENDING_PART,)  # bounds no row meets: any side answers that (with no rows)


def union_sql(table: LogicalTable | DailyAggregate, watermark: date | None, rolled: date | None = None,
              sides: tuple[str, ...] = EVERY_PART) -> str:  # fmt: skip
    """The logical table: the monthly roll-ups through `rolled` (the last day of the last month rolled
    up), curated rows of the days after it through the watermark, raw rows of the days after that (of
    these, the `sides` a query can need; see `parts`).

    Each row once: delivery into the lake is at least once, so one transaction may arrive in two events;
    compaction writes a day's rows DISTINCT and the raw side is read DISTINCT here, and a row belongs to
    one day, so it is on one side only. Queries over the logical tables need no DISTINCT of their own
    (which cost about half of each dashboard query over a year, bench/analytics_queries.py). An aggregate
    is its compacted days plus the same aggregate over its base table's rows not compacted yet."""
    if isinstance(table, DailyAggregate):
        pending = table.over(pending_sql(LOGICAL[table.base], watermark))
    else:
        pending = pending_sql(table, watermark)
    if watermark is None:
        return pending
    columns = ", ".join(c.name for c in table.columns)
    # Every name and value in these statements comes from the definitions above, none from a caller.
    selects = {PENDING_PART: pending}
    if rolled is not None:
        selects[MONTHLY_PART] = f"SELECT {columns} FROM {table.monthly} WHERE \"{MONTH}\" <= '{rolled:%Y-%m}'"  # noqa: S608
    after = f" AND \"{DAY}\" > '{rolled.isoformat()}'" if rolled else ""
    selects[CURATED_PART] = f"SELECT {columns} FROM {table.curated} WHERE \"{DAY}\" <= '{watermark.isoformat()}'{after}"  # noqa: S608
    return " UNION ALL ".join(selects[side] for side in EVERY_PART if side in sides and side in selects)


def partition_sql(table: LogicalTable, day: date, closed_on: date) -> str:
    """The rows of `day`'s curated partition, from the raw days that can hold them (compaction)."""
    first, last = table.raw_window(day, closed_on)
    columns = ", ".join(c.name for c in table.columns)
    rows = f"SELECT DISTINCT {columns} FROM ({raw_rows(table, first, last)}) AS pending"  # noqa: S608
    return f"{rows} WHERE {table.row_day} = DATE '{day.isoformat()}' ORDER BY {table.order_by}"


# --- query expansion ---------------------------------------------------------------------------------------


def parse(sql: str) -> exp.Expression:
    """One Athena statement (ValueError otherwise)."""
    import sqlglot

    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except sqlglot.errors.ParseError as error:
        raise ValueError(f"not valid SQL: {error}") from None
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, got {len(statements)}")
    return statements[0]


def table_references(tree: exp.Expression) -> list[exp.Table]:
    """The tables a statement reads by name (not CTEs of the same name, not table functions)."""
    from sqlglot import exp

    return [
        t
        for t in tree.find_all(exp.Table)
        if isinstance(t.this, exp.Identifier) and not t.args.get("db") and not _is_cte(t)
    ]


def _is_cte(table: exp.Table) -> bool:
    """Whether a name refers to a CTE in scope: a query body sees all its CTEs, a CTE sees the ones
    before it (and itself when RECURSIVE)."""
    from sqlglot import exp

    name = table.name.lower()
    child: exp.Expression = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = list(node.expressions)
            index = next(i for i, cte in enumerate(ctes) if cte is child)
            visible = ctes[: index + 1] if node.args.get("recursive") else ctes[:index]
            if name in {cte.alias_or_name.lower() for cte in visible}:
                return True
        else:
            with_ = node.args.get("with_")
            shadows = isinstance(with_, exp.With) and child is not with_
            if shadows and name in {cte.alias_or_name.lower() for cte in with_.expressions}:
                return True
        child, node = node, node.parent
    return False


@cache
def _union_tree(name: str, watermark: date | None, rolled: date | None, sides: tuple[str, ...]) -> exp.Expression:
    if name in HISTORY:
        return parse(HISTORY[name].sql())
    if name in MONTH_ENDS:
        return parse(MONTH_ENDS[name].month_sql())
    return parse(union_sql(AGGREGATES.get(name) or LOGICAL[name], watermark, rolled, sides))


# A warm process answers the same dashboard SQL again and again (each reload, each admin): translating it
# (sqlglot: parse, expand, print) is about 0.08 s of a 0.4 s query over a year, so the translations of
# the last queries are kept. They depend on the SQL text and the compaction's state only (a new key when it moves).
TRANSLATIONS_KEPT = 256


@lru_cache(maxsize=TRANSLATIONS_KEPT)
def expand(sql: str, watermark: date | None, rolled: date | None = None) -> str:
    """Athena SQL over logical tables -> Athena SQL over physical ones: each reference to a logical table
    becomes its union subquery under the reference's alias (or its own name), so `transactions t`,
    `transactions.amount`, joins, CTEs and subqueries all keep working. Raises ValueError for bad SQL."""
    from sqlglot import exp

    tree = parse(sql)
    for table in table_references(tree):
        name = table.name.lower()
        if name not in QUERYABLE:
            continue
        alias = table.args.get("alias")
        alias = alias.copy() if alias is not None else exp.TableAlias(this=exp.to_identifier(name))
        bounds = _day_bounds(table, _row_day_column(name)) if watermark is not None and name not in HISTORY else []
        union = _union_tree(name, watermark, rolled, parts(watermark, rolled, *_day_range(bounds))).copy()
        _prune(union, bounds)
        replacement = exp.Subquery(this=union, alias=alias)
        table.replace(replacement)
    return tree.sql(dialect="athena")


# --- partition pruning: a query's bounds on a row's day become bounds on the curated `day` partitions -----

_BOUNDS = {"GTE": ">=", "GT": ">", "LTE": "<=", "LT": "<", "EQ": "="}
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "="}
_INCLUSIVE = {"<": "<=", ">": ">=", "=": "="}  # a moment's bound keeps its literal's whole day


def _row_day_column(name: str) -> tuple[str, bool] | None:
    """The column a row's partition day is made of, when there is one, and whether it is a moment: a
    table's own `business_day` (a date: the partition day itself), the tasks' `created_at` (partitioned
    by its UTC date, `CAST(created_at AS DATE)`), or a month-end table's `as_of` (its month's last day)."""
    if name in MONTH_ENDS:
        return "as_of", False
    table = LOGICAL[AGGREGATES[name].base] if name in AGGREGATES else LOGICAL.get(name)
    if table is None:
        return None
    if re.fullmatch(r"\w+", table.row_day):
        return table.row_day, False
    moment = re.fullmatch(r"CAST\((\w+) AS DATE\)", table.row_day)
    return (moment[1], True) if moment else None


def _day_bounds(table: exp.Table, row_day: tuple[str, bool] | None) -> list[tuple[str, str]]:
    """(operator, 'YYYY-MM-DD') for each top-level AND-ed condition of the SELECT reading `table` that
    bounds `column` of it by a date literal: `t.business_day BETWEEN DATE 'a' AND DATE 'b'`, `>=`, `=`...
    A condition under OR, or on another table's column, bounds nothing. Any row the query keeps meets
    these, so reading only the partitions that can hold such rows changes no answer (and on Athena,
    with partition projection, reads and bills only those days). On a moment (`created_at`) a bound keeps
    the literal's whole day: `created_at < TIMESTAMP '2026-11-20 06:00:00'` keeps day 2026-11-20 too."""
    from sqlglot import exp

    select = table.find_ancestor(exp.Select)
    where = select.args.get("where") if select is not None else None
    if row_day is None or where is None:
        return []
    column, moment = row_day
    sources = [t for t in select.find_all(exp.Table) if t.find_ancestor(exp.Select) is select]
    names = {table.alias_or_name.lower()} | ({""} if len(sources) == 1 else set())
    bounds: list[tuple[str, str]] = []

    def ours(node: exp.Expression) -> bool:
        return isinstance(node, exp.Column) and node.name.lower() == column and node.table.lower() in names

    def day_of(node: exp.Expression | None) -> str | None:
        return _day_literal(node, moment)

    for condition in where.this.flatten() if isinstance(where.this, exp.And) else [where.this]:
        if isinstance(condition, exp.Between) and ours(condition.this):
            low, high = day_of(condition.args.get("low")), day_of(condition.args.get("high"))
            bounds += [(">=", low)] if low else []
            bounds += [("<=", high)] if high else []
        elif type(condition).__name__ in _BOUNDS:
            operator = _BOUNDS[type(condition).__name__]
            if ours(condition.this) and (day := day_of(condition.expression)):
                bounds.append((operator, day))
            elif ours(condition.expression) and (day := day_of(condition.this)):
                bounds.append((_FLIPPED[operator], day))
    return [(_INCLUSIVE.get(op, op), day) for op, day in bounds] if moment else bounds


def _day_literal(node: exp.Expression | None, moment: bool = False) -> str | None:
    """'YYYY-MM-DD' of `DATE 'YYYY-MM-DD'` (or the same string literal), else None; against a moment
    (`moment`), also the day of `TIMESTAMP 'YYYY-MM-DD[ hh:mm:ss]'`."""
    from sqlglot import exp

    kinds = {exp.DataType.Type.DATE} | ({exp.DataType.Type.TIMESTAMP} if moment else set())
    if isinstance(node, exp.Cast) and node.to.this in kinds:
        node = node.this
    pattern = r"(\d{4}-\d{2}-\d{2})([ T][\d:.]+)?" if moment else r"(\d{4}-\d{2}-\d{2})"
    if isinstance(node, exp.Literal) and node.is_string and (found := re.fullmatch(pattern, node.this)):
        return found[1]
    return None


# A bound on a day, as a bound on the month holding it: `> 2026-06-10` keeps June, `< 2026-06-10` too.
_MONTH_BOUNDS = {">=": ">=", ">": ">=", "<=": "<=", "<": "<=", "=": "="}


def _prune(union: exp.Expression, bounds: list[tuple[str, str]]) -> None:
    """Add the bounds on `day` to the compacted sides of a logical table's union (the SELECTs over its
    monthly and curated tables), as bounds on `month` for the monthly one."""
    from sqlglot import exp

    if not bounds:
        return
    for select in union.find_all(exp.Select):
        clause = select.find(exp.From)  # breadth first: the SELECT's own FROM
        source = clause.this.name if clause is not None and isinstance(clause.this, exp.Table) else ""
        for operator, day in bounds:
            if source.startswith("monthly_"):
                condition = f"\"{MONTH}\" {_MONTH_BOUNDS[operator]} '{day[:7]}'"
            elif source.startswith("curated_"):
                condition = f"\"{DAY}\" {operator} '{day}'"
            else:
                continue
            select.where(condition, dialect="athena", copy=False)


DayRange = tuple[date | None, date | None]  # first and last `day` partition, inclusive; None = open


def scans(sql: str, watermark: date | None, rolled: date | None = None) -> dict[str, DayRange]:
    return dict(_scans(sql, watermark, rolled))  # a copy: the kept one is never changed by a caller


@lru_cache(maxsize=TRANSLATIONS_KEPT)
def _scans(sql: str, watermark: date | None, rolled: date | None) -> dict[str, DayRange]:
    """The physical tables a query reads once expanded, each with the days it needs (None = open): what a
    local engine has to mirror. A logical table's compacted sides are bounded as `expand` prunes them (the
    query's AND-ed date bounds on its row day), so a month's query lists and copies a month of partitions,
    not every compacted day of the lake: its monthly roll-ups through `rolled`, its curated days after
    that; its raw side is the days after the watermark."""
    needs: dict[str, DayRange] = {}

    def need(name: str, first: date | None, last: date | None = None) -> None:
        if name not in needs:
            needs[name] = (first, last)
            return
        (had_first, had_last) = needs[name]
        needs[name] = (
            None if had_first is None or first is None else min(had_first, first),
            None if had_last is None or last is None else max(had_last, last),
        )

    for table in table_references(parse(sql)):
        name = table.name.lower()
        if name in PHYSICAL:
            need(name, None)
        elif name in HISTORY:
            for source in HISTORY[name].versions:
                need(source.table, None)
        elif name in MONTH_ENDS:
            need(MONTH_ENDS[name].monthly, *_day_range(_day_bounds(table, _row_day_column(name))))
        elif name in AGGREGATES or name in LOGICAL:
            base = LOGICAL[AGGREGATES[name].base] if name in AGGREGATES else LOGICAL[name]
            compacted = AGGREGATES.get(name) or base
            first, last = _day_range(_day_bounds(table, _row_day_column(name))) if watermark else (None, None)
            sides = parts(watermark, rolled, first, last)
            if MONTHLY_PART in sides:
                need(compacted.monthly, first, rolled if last is None else min(last, rolled))
            if CURATED_PART in sides:
                after = rolled + timedelta(days=1) if rolled else None
                need(compacted.curated, max(first, after) if first and after else first or after, last)
            if PENDING_PART in sides:
                raw_from = watermark + timedelta(days=1 - base.lead()) if watermark else None
                for source in base.sources:
                    need(source.table, raw_from)
    return needs


def _day_range(bounds: list[tuple[str, str]]) -> DayRange:
    """The narrowest [first, last] of days that meets every (operator, 'YYYY-MM-DD') bound."""
    first: date | None = None
    last: date | None = None
    one = timedelta(days=1)
    for operator, text in bounds:
        day = date.fromisoformat(text)
        low = {">=": day, ">": day + one, "=": day}.get(operator)
        high = {"<=": day, "<": day - one, "=": day}.get(operator)
        first = low if low is not None and (first is None or low > first) else first
        last = high if high is not None and (last is None or high < last) else last
    return first, last


# --- DuckDB: the same physical tables as views over the local mirror ------------------------------------


def duckdb_type(hive: str) -> str:
    """`struct<a:string,b:array<bigint>>` -> `STRUCT("a" VARCHAR, "b" BIGINT[])`."""
    kind, rest = _duckdb_type(hive.replace(" ", ""))
    if rest:
        raise ValueError(f"unexpected {rest!r} in Hive type {hive!r}")
    return kind


_SCALARS = {
    "string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "boolean": "BOOLEAN", "double": "DOUBLE",
    "date": "DATE", "timestamp": "TIMESTAMP",
}  # fmt: skip


def _duckdb_type(text: str) -> tuple[str, str]:
    if text.startswith("struct<"):
        rest, fields = text[len("struct<") :], []
        while True:
            name, rest = rest.split(":", 1)
            kind, rest = _duckdb_type(rest)
            fields.append(f'"{name}" {kind}')
            if rest.startswith(">"):
                return f"STRUCT({', '.join(fields)})", rest[1:]
            rest = rest[1:]  # ","
    if text.startswith("array<"):
        kind, rest = _duckdb_type(text[len("array<") :])
        return f"{kind}[]", rest[1:]
    match = re.match(r"[a-z]+", text)
    if not match or match[0] not in _SCALARS:
        raise ValueError(f"no DuckDB type for Hive type {text!r}")
    return _SCALARS[match[0]], text[match.end() :]


def has_files(table: PhysicalTable, root: Path) -> bool:
    suffix = "json" if table.format == "json" else "parquet"
    return any((root / table.prefix).glob(f"{table.partition}=*/*.{suffix}"))


def duckdb_view_sql(table: PhysicalTable, root: Path) -> str:
    """The body of a DuckDB view that reads `table` from a local mirror rooted at `root` (hive
    partitions, `day` or `month` kept a string as Athena projects it); an empty typed relation without files."""
    base = root / table.prefix
    suffix = "json" if table.format == "json" else "parquet"
    key = table.partition
    if not has_files(table, root):
        typed = ", ".join(f'CAST(NULL AS {duckdb_type(c.type)}) AS "{c.name}"' for c in table.columns)
        return f'SELECT {typed}, CAST(NULL AS VARCHAR) AS "{key}" WHERE false'
    pattern = quote(str(base / f"{key}=*" / f"*.{suffix}"))
    if table.format == "json":
        return f"SELECT * FROM {read_json(table, pattern)}"  # noqa: S608
    hive = f"hive_partitioning=true, hive_types={{'{key}': 'VARCHAR'}}"
    typed = ", ".join(f'CAST("{c.name}" AS {duckdb_type(c.type)}) AS "{c.name}"' for c in table.columns)
    return f'SELECT {typed}, "{key}" FROM read_parquet({pattern}, {hive})'  # noqa: S608


def read_json(table: PhysicalTable, files: str, *, filename: bool = False) -> str:
    """DuckDB's reader of a raw table's files (`files`: a quoted glob or a list of quoted paths): typed by the
    table's columns, its partition a string column; `filename`: each row's file in a column of that name."""
    columns = ", ".join(f"{quote(c.name)}: {quote(duckdb_type(c.type))}" for c in table.columns)
    hive = f"hive_partitioning=true, hive_types={{'{table.partition}': 'VARCHAR'}}"
    extra = ", filename=true" if filename else ""
    return f"read_json({files}, columns={{{columns}}}, format='newline_delimited', {hive}{extra})"


def quote(text: str) -> str:
    """A SQL string literal (DuckDB and Athena alike)."""
    return "'" + text.replace("'", "''") + "'"
