"""The analytics tables (R-AN-1, R-AN-4): raw tables typed from the contracts, and `expand`, which turns SQL
over the logical tables into SQL over the physical ones, whatever the query's shape. The last tests run
the expansion on DuckDB over files in the lake's layout (no S3): the union is exact around the watermark."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from analytics import lake, query, tables
from shared.contracts import REGISTRY
from shared.contracts.tasks import upcast_task_created_v1

W = date(2026, 11, 26)


def tree(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read="athena")


def names(node: exp.Expression) -> set[str]:
    return {t.name for t in node.find_all(exp.Table)}


def subqueries(sql: str) -> dict[str, exp.Subquery]:
    return {s.alias: s for s in tree(sql).find_all(exp.Subquery) if s.alias}


# --- raw tables from the contracts -------------------------------------------------------------------


def test_r_an_1_every_registered_event_version_has_a_raw_table_over_its_prefix():
    expected = {tables.raw_table_name(c.name, c.version): f"raw/{c.name}/v{c.version}/" for c in REGISTRY.contracts}
    assert {t.name: t.prefix for t in tables.RAW_TABLES} == expected
    assert "raw_transaction_recorded_v1" in expected and "raw_task_created_v2" in expected


def test_r_an_1_the_data_struct_is_typed_from_the_model():
    raw = tables.PHYSICAL["raw_transaction_recorded_v1"]
    assert [(c.name, c.type) for c in raw.columns[:-1]] == list(tables.ENVELOPE_COLUMNS)
    assert raw.columns[-1].type == (
        "struct<transaction_id:string,account_id:string,kind:string,amount:bigint,balance_after:bigint,"
        "task_id:string,reason:string,business_day:string>"
    )
    assert tables.PHYSICAL["raw_account_created_v1"].columns[-1].type == (
        "struct<account_id:string,version:bigint,roles:array<string>,active:boolean>"
    )
    assert tables.duckdb_type("struct<a:string,b:array<bigint>,c:struct<d:boolean>>") == (
        'STRUCT("a" VARCHAR, "b" BIGINT[], "c" STRUCT("d" BOOLEAN))'
    )


def test_curated_tables_are_the_logical_tables_columns_in_parquet():
    for logical in tables.LOGICAL_TABLES:
        curated = tables.PHYSICAL[logical.curated]
        assert (curated.format, curated.prefix, curated.columns) == ("parquet", f"curated/{logical.name}/",
                                                                     logical.columns)  # fmt: skip
    assert [c.name for c in tables.LOGICAL["transactions"].columns] == [
        "transaction_id", "account_id", "kind", "amount", "balance_after", "task_id", "reason", "business_day",
        "recorded_at",
    ]  # fmt: skip


# --- expand ------------------------------------------------------------------------------------------


def test_r_an_4_a_logical_table_becomes_its_union_under_the_same_alias():
    expanded = tables.expand("SELECT t.kind, sum(t.amount) FROM transactions t GROUP BY t.kind", W)
    parts = subqueries(expanded)
    assert set(parts) == {"t", "pending"}
    assert names(parts["t"]) == {"curated_transactions", "raw_transaction_recorded_v1"}
    assert "FROM transactions" not in expanded and expanded.startswith("SELECT t.kind, SUM(t.amount) FROM (")
    assert "\"day\" <= '2026-11-26'" in expanded  # curated through the watermark
    assert "r.\"day\" >= '2026-11-26'" in expanded  # raw from W (a fee recorded on W may belong to W+1)
    assert "business_day > CAST('2026-11-26' AS DATE)" in expanded


def test_a_reference_without_alias_is_aliased_by_its_own_name():
    expanded = tables.expand("SELECT transactions.amount FROM transactions WHERE transactions.kind = 'fee'", W)
    assert "transactions" in subqueries(expanded)
    assert "transactions.amount" in expanded


def test_joins_replace_every_logical_table_and_leave_the_rest():
    sql = "SELECT x.amount, t.title FROM transactions AS x JOIN tasks AS t ON t.task_id = x.task_id JOIN other o ON 1=1"
    parts = subqueries(tables.expand(sql, W))
    assert names(parts["x"]) == {"curated_transactions", "raw_transaction_recorded_v1"}
    assert names(parts["t"]) == {"curated_tasks", "raw_task_created_v1", "raw_task_created_v2"}
    assert "other" in names(tree(tables.expand(sql, W)))


def test_a_cte_over_a_logical_table_is_expanded_and_its_name_is_left_alone():
    expanded = tables.expand(
        "WITH paid AS (SELECT account_id, sum(amount) AS s FROM transactions GROUP BY 1) SELECT * FROM paid", W
    )
    assert "paid" in names(tree(expanded)) and "transactions" in subqueries(expanded)


def test_a_cte_named_like_a_logical_table_shadows_it_outside_its_own_body():
    expanded = tables.expand(
        "WITH transactions AS (SELECT * FROM transactions WHERE kind = 'fee') SELECT count(*) FROM transactions", W
    )
    parsed = tree(expanded)
    outer = parsed.args["from_"].this
    assert isinstance(outer, exp.Table) and outer.name == "transactions"  # the CTE
    cte = parsed.args["with_"].expressions[0].this
    assert "curated_transactions" in names(cte)  # the body reads the real table


def test_a_logical_name_inside_a_subquery_is_expanded():
    expanded = tables.expand(
        "SELECT title FROM tasks WHERE task_id IN (SELECT task_id FROM transactions WHERE kind = 'reward')", W
    )
    assert {"tasks", "transactions"} <= set(subqueries(expanded))


def test_physical_and_qualified_names_are_not_touched():
    sql = "SELECT * FROM raw_task_created_v1 CROSS JOIN other_db.transactions"
    assert names(tree(tables.expand(sql, W))) == {"raw_task_created_v1", "transactions"}
    assert not subqueries(tables.expand(sql, W))


def test_without_a_watermark_everything_comes_from_the_raw_events():
    expanded = tables.expand("SELECT count(*) FROM tasks", None)
    assert names(tree(expanded)) == {"raw_task_created_v1", "raw_task_created_v2"}


def test_what_is_not_one_statement_is_refused():
    for sql in ("SELEC 1", "SELECT 1; SELECT 2", ""):
        with pytest.raises(ValueError):
            tables.expand(sql, W)


def test_scans_say_which_raw_days_a_local_engine_needs():
    assert tables.scans("SELECT * FROM transactions JOIN tasks USING (task_id)", W) == {
        "curated_transactions": (None, None), "raw_transaction_recorded_v1": (date(2026, 11, 26), None),
        "curated_tasks": (None, None), "raw_task_created_v1": (date(2026, 11, 27), None),
        "raw_task_created_v2": (date(2026, 11, 27), None),
    }  # fmt: skip
    assert tables.scans("SELECT * FROM transactions, raw_transaction_recorded_v1", W)[
        "raw_transaction_recorded_v1"
    ] == (None, None)  # read directly: every day


@pytest.fixture()
def business_zone(monkeypatch):
    """Set the business timezone; what a process expanded under another zone is forgotten before and after (a
    deployment's zone is a constant: a warm process keeps its expansions)."""

    def forget() -> None:
        for cached in (tables.expand, tables._scans, tables._union_tree):
            cached.cache_clear()

    def use(zone: str) -> None:
        monkeypatch.setenv("BUSINESS_TIMEZONE", zone)
        forget()

    yield use
    forget()


@pytest.mark.parametrize(
    ("zone", "ahead"),
    [("UTC", False), ("America/New_York", False), ("America/Los_Angeles", False), ("Europe/London", True),
     ("Asia/Tokyo", True), ("Pacific/Kiritimati", True)],
)  # fmt: skip
def test_a_zone_ahead_of_utc_at_any_time_of_the_year_needs_one_raw_day_more(zone, ahead, business_zone):
    """In a business timezone ahead of UTC (London in summer too), a business day starts on the UTC day before
    its own, so its rows can be recorded a day earlier still: queries after the watermark read the raw day
    before it, and the compaction of a day the raw day before that. Elsewhere one day less is read."""
    assert tables.zone_ahead_of_utc(zone) is ahead
    business_zone(zone)
    first = date(2026, 11, 25) if ahead else W
    sql = "SELECT * FROM transactions, closed_days"
    assert tables.scans(sql, W)["raw_transaction_recorded_v1"] == (first, None)
    assert tables.scans(sql, W)["raw_day_closed_v1"] == (first, None)
    assert f"r.\"day\" >= '{first}'" in tables.expand(sql, W)
    assert tables.LOGICAL["transactions"].raw_window(W, W) == (first - timedelta(days=1), W + timedelta(days=1))
    assert tables.LOGICAL["tasks"].raw_window(W, W) == (W, W)  # its row day is a UTC date: no lead anywhere


@pytest.mark.parametrize(
    ("sql", "curated"),
    [
        ("SELECT * FROM transactions WHERE business_day BETWEEN DATE '2026-06-01' AND DATE '2026-06-30'",
         {"curated_transactions": (date(2026, 6, 1), date(2026, 6, 30))}),
        ("SELECT * FROM daily_totals d WHERE d.business_day > DATE '2026-06-01' AND d.business_day < DATE '2026-06-05'",
         {"curated_daily_totals": (date(2026, 6, 2), date(2026, 6, 4))}),
        ("SELECT * FROM daily_totals WHERE business_day = DATE '2026-06-03' UNION ALL "
         "SELECT * FROM daily_totals WHERE business_day = DATE '2026-06-09'",
         {"curated_daily_totals": (date(2026, 6, 3), date(2026, 6, 9))}),  # both references are mirrored
        ("SELECT * FROM account_days WHERE business_day <= DATE '2026-06-03'",
         {"curated_account_days": (None, date(2026, 6, 3))}),
        ("SELECT * FROM transactions WHERE business_day = DATE '2026-06-03' OR amount > 0",
         {"curated_transactions": (None, None)}),  # under OR: no bound
    ],
)  # fmt: skip
def test_a_local_engine_mirrors_only_the_curated_days_a_query_can_read(sql, curated):
    """The mirror sync lists and copies these partitions only (a month's query: a month of files, not the
    whole compacted lake), the same days `expand` prunes the curated side to."""
    needs = tables.scans(sql, W)
    assert {name: days for name, days in needs.items() if name.startswith("curated_")} == curated


# --- the expansion, run (DuckDB over files in the lake's layout) ---------------------------------------------


def put_raw(root: Path, name: str, day: str, data: dict, event_time: str) -> None:
    event_id = str(uuid.uuid4())
    path = root / lake.raw_prefix(name, 2 if "jira_id" in data else 1) / f"day={day}" / f"{event_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    envelope = {"event_id": event_id, "event_name": name, "event_version": 1, "event_time": event_time,
                "producer": "ates.accounting", "correlation_id": "c", "data": data}  # fmt: skip
    path.write_text(json.dumps(envelope) + "\n")


def transaction(kind: str, amount: int, business_day: str, reason: str) -> dict:
    return {"transaction_id": reason, "account_id": "p", "kind": kind, "amount": amount, "balance_after": 0,
            "task_id": None, "reason": reason, "business_day": business_day}  # fmt: skip


def run(root: Path, sql: str, watermark: date | None) -> list[tuple]:
    connection = query.connect(root, tables.PHYSICAL.values())
    return connection.execute(query.to_duckdb(tables.expand(sql, watermark))).fetchall()


def test_r_an_4_the_union_reads_each_row_once_around_the_watermark(tmp_path):
    for landed, kind, amount, business_day, reason, at in [
        ("2026-11-25", "fee", -1, "2026-11-25", "old fee", "2026-11-25T10:00:00Z"),
        ("2026-11-26", "fee", -2, "2026-11-26", "fee of W", "2026-11-26T10:00:00Z"),
        ("2026-11-27", "payout", -3, "2026-11-26", "payout of W", "2026-11-27T00:20:00Z"),  # after midnight
        ("2026-11-26", "fee", -4, "2026-11-27", "early fee", "2026-11-26T23:00:00Z"),  # W closed early
        ("2026-11-27", "fee", -5, "2026-11-27", "fee of W+1", "2026-11-27T09:00:00Z"),
    ]:
        put_raw(tmp_path, "TransactionRecorded", landed, transaction(kind, amount, business_day, reason), at)
    sql = "SELECT reason FROM transactions ORDER BY reason"
    everything = [("early fee",), ("fee of W",), ("fee of W+1",), ("old fee",), ("payout of W",)]
    assert run(tmp_path, sql, None) == everything
    # the curated partitions as the compaction writes them, through W
    connection = query.connect(tmp_path, tables.PHYSICAL.values())
    for day in ("2026-11-25", "2026-11-26"):
        target = tmp_path / lake.curated_key("transactions", date.fromisoformat(day))
        target.parent.mkdir(parents=True)
        select = query.to_duckdb(tables.partition_sql(tables.LOGICAL["transactions"], date.fromisoformat(day),
                                                      date(2026, 11, 27)))  # fmt: skip
        connection.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    assert run(tmp_path, sql, W) == everything  # W's payout from curated, the early fee from raw, once each
    assert run(tmp_path, "SELECT business_day, sum(amount) FROM transactions GROUP BY 1 ORDER BY 1", W) == [
        (date(2026, 11, 25), -1), (date(2026, 11, 26), -5), (date(2026, 11, 27), -9)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "title", ["[UBERPOP-42] Feed the parrots", "  [UP-7]   Polish the perch  ", "Plain title", "[lower-1] not a jira",
              "[UP-1]", "Ends with [UP-2]"],
)  # fmt: skip
def test_r_ev_1_task_created_v1_reads_like_its_upcast(tmp_path, title):
    put_raw(tmp_path, "TaskCreated", "2026-11-26", {"task_id": "t", "title": title, "created_by": "a"},
            "2026-11-26T10:00:00.123Z")  # fmt: skip
    upcast = upcast_task_created_v1({"title": title})
    assert run(tmp_path, "SELECT title, jira_id, created_at FROM tasks", None) == [
        (upcast["title"], upcast["jira_id"], datetime(2026, 11, 26, 10, 0, 0, 123000))
    ]


# --- partition pruning ---------------------------------------------------------------------------------------


def _curated_bounds(sql: str) -> list[str]:
    import re as regex

    return regex.findall(r"\"day\" ([<>=]+ '[\d-]+')", tables.expand(sql, date(2026, 11, 30)).split("UNION ALL")[0])


@pytest.mark.parametrize(
    ("sql", "bounds"),
    [
        ("SELECT * FROM transactions WHERE business_day BETWEEN DATE '2026-11-01' AND DATE '2026-11-07'",
         ["<= '2026-11-30'", ">= '2026-11-01'", "<= '2026-11-07'"]),
        ("SELECT * FROM daily_totals d WHERE DATE '2026-11-03' = d.business_day AND kind = 'fee'",
         ["<= '2026-11-30'", "= '2026-11-03'"]),
        ("SELECT * FROM transactions t WHERE t.business_day > DATE '2026-11-03' OR t.amount > 0",
         ["<= '2026-11-30'"]),  # under OR: no bound
        ("SELECT * FROM transactions t JOIN closed_days c ON c.business_day = t.business_day "
         "WHERE c.business_day >= DATE '2026-11-20'", ["<= '2026-11-30'"]),  # t is not bounded, c is
        ("SELECT * FROM tasks WHERE created_at >= TIMESTAMP '2026-11-20 00:00:00'",
         ["<= '2026-11-30'", ">= '2026-11-20'"]),
        ("SELECT * FROM tasks WHERE created_at < TIMESTAMP '2026-11-20 06:00:00' AND created_at > DATE '2026-11-02'",
         ["<= '2026-11-30'", "<= '2026-11-20'", ">= '2026-11-02'"]),  # a moment's bound keeps its literal's whole day
    ],
)  # fmt: skip
def test_a_querys_bounds_on_the_row_day_read_only_those_curated_partitions(sql, bounds):
    assert _curated_bounds(sql) == bounds


# --- monthly roll-ups: the logical tables read them through the last month rolled up ------------------------

ROLLED = date(2026, 10, 31)


def test_with_roll_ups_a_logical_table_reads_months_then_days_then_raw_events():
    union = tables.expand("SELECT * FROM daily_totals", W, ROLLED)
    assert "monthly_daily_totals WHERE \"month\" <= '2026-10'" in union
    assert "curated_daily_totals WHERE \"day\" <= '2026-11-26' AND \"day\" > '2026-10-31'" in union
    assert "raw_transaction_recorded_v1" in union
    through_the_watermark = tables.expand("SELECT * FROM daily_totals", ROLLED, ROLLED)
    assert "curated_daily_totals" not in through_the_watermark  # no day after the roll-ups is compacted


@pytest.mark.parametrize(
    ("where", "months", "days", "raw"),
    [
        ("business_day BETWEEN DATE '2026-06-10' AND DATE '2026-06-20'", [">= '2026-06'", "<= '2026-06'"], None,
         False),  # June: its roll-up only
        ("business_day > DATE '2026-09-30'", [">= '2026-09'"], ["> '2026-09-30'"], True),  # September may hold later
        ("business_day < DATE '2026-07-01'", ["<= '2026-07'"], None, False),
        ("business_day = DATE '2026-11-03'", None, ["= '2026-11-03'"], False),  # a compacted day of November
        ("business_day >= DATE '2026-11-27'", None, None, True),  # after the watermark: raw events only
    ],
)  # fmt: skip
def test_a_querys_bounds_on_the_row_day_read_only_the_months_days_and_raw_events_that_can_hold_them(
    where, months, days, raw
):
    """Bounds on a side's partitions, and a side that cannot hold a row the query keeps is left out."""
    import re as regex

    expanded = tables.expand(f"SELECT * FROM transactions WHERE {where}", W, ROLLED)
    sides = {
        found[0]: side
        for side in expanded.split("UNION ALL")
        if (found := regex.findall(r"FROM (\w+_transactions)", side))
    }
    monthly, curated = sides.get("monthly_transactions"), sides.get("curated_transactions")
    assert (monthly and regex.findall(r"\"month\" ([<>=]+ '[\d-]+')", monthly)) == (
        months and ["<= '2026-10'", *months]
    )
    assert (curated and regex.findall(r"\"day\" ([<>=]+ '[\d-]+')", curated)) == (
        days and ["<= '2026-11-26'", "> '2026-10-31'", *days]
    )
    assert ("raw_transaction_recorded_v1" in expanded) == raw
    assert (
        "raw_transaction_recorded_v1" in tables.scans(f"SELECT * FROM transactions WHERE {where}", W, ROLLED)
    ) == raw


def test_scans_with_roll_ups_mirror_the_months_and_only_the_days_after_them():
    month = "SELECT * FROM transactions WHERE business_day BETWEEN DATE '2026-06-01' AND DATE '2026-06-30'"
    assert {k: v for k, v in tables.scans(month, W, ROLLED).items() if not k.startswith("raw_")} == {
        "monthly_transactions": (date(2026, 6, 1), date(2026, 6, 30))
    }  # fmt: skip
    year = tables.scans("SELECT * FROM daily_totals", W, ROLLED)
    assert year["monthly_daily_totals"] == (None, ROLLED)
    assert year["curated_daily_totals"] == (date(2026, 11, 1), None)


def test_months_are_rolled_up_once_the_watermark_passed_their_last_day():
    from analytics import rollup

    assert rollup.months_to_roll(date(2026, 8, 17), lake.State(date(2026, 11, 29))) == [
        date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
    ]  # fmt: skip
    assert rollup.months_to_roll(None, lake.State(date(2026, 11, 30), ROLLED)) == [date(2026, 11, 1)]
    assert rollup.months_to_roll(None, lake.State(date(2026, 11, 29), ROLLED)) == []
    assert rollup.months_to_roll(None, lake.State()) == []
    assert lake.month_end(date(2028, 2, 3)) == date(2028, 2, 29)


def test_r_an_4_the_union_reads_each_row_once_around_the_roll_ups_and_the_watermark(tmp_path):
    """October rolled up, November compacted through the 26th, the rest raw: every row once."""
    from analytics import rollup

    days = [("2026-10-30", "2026-10-30T10:00:00Z"), ("2026-10-31", "2026-10-31T10:00:00Z"),
            ("2026-11-01", "2026-11-01T10:00:00Z"), ("2026-11-26", "2026-11-26T10:00:00Z"),
            ("2026-11-27", "2026-11-27T10:00:00Z")]  # fmt: skip
    for amount, (day, moment) in enumerate(days, start=1):
        put_raw(tmp_path, "TransactionRecorded", day, transaction("fee", -amount, day, f"fee of {day}"), moment)
    table = tables.LOGICAL["transactions"]
    connection = query.connect(tmp_path, tables.PHYSICAL.values())
    for day in ("2026-10-30", "2026-10-31", "2026-11-01", "2026-11-26"):
        target = tmp_path / lake.curated_key("transactions", date.fromisoformat(day))
        target.parent.mkdir(parents=True)
        select = query.to_duckdb(tables.partition_sql(table, date.fromisoformat(day), date.fromisoformat(day)))
        connection.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    october = sorted(tmp_path.glob("curated/transactions/day=2026-10-*/part-0.parquet"))
    target = tmp_path / lake.monthly_key("transactions", ROLLED)
    target.parent.mkdir(parents=True)
    assert rollup.write_month(connection, table, october, target) == 2
    for day in october:  # what the monthly file holds is read from it, not from the days
        day.unlink()
    sql = "SELECT business_day, sum(amount) FROM transactions GROUP BY 1 ORDER BY 1"
    expected = [(date.fromisoformat(day), -amount) for amount, (day, _) in enumerate(days, start=1)]
    connection = query.connect(tmp_path, tables.PHYSICAL.values())
    assert connection.execute(query.to_duckdb(tables.expand(sql, W, ROLLED))).fetchall() == expected
