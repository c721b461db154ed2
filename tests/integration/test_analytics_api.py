"""The analytics API (R-AN-3, SPEC §11) through its real handler with its template environment, over a
lake of known rows: the dashboard's numbers, the most expensive task of a day, week and month (ties to
the earliest completion) with its per-day series, daily trends with every day present, the SQL console
and its refusals, and admins only.

Every test runs twice: over the three logical tables held directly in DuckDB (the handlers' Athena SQL
translated by sqlglot, as the local engine does, R-AN-4), and through the real query layer over the
same rows landed as events in a lake bucket on the emulator (DuckDB over its mirror).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest
import sqlglot

from analytics import query
from shared import clock
from tests.integration.conftest import api_event, call

ADMIN = {"sub": "00000000-0000-4000-8000-0000000000a1", "roles": "admin", "department_id": "", "active": "true"}
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday; ISO week 2026-11-23 .. 2026-11-29


def someone(roles: str) -> dict[str, str]:
    return {"sub": "00000000-0000-4000-8000-0000000000b2", "roles": roles, "department_id": "", "active": "true"}


def u(short: str) -> str:
    """A UUID for a short name (`t4`, `f-a`), in the same order as the names."""
    return f"00000000-0000-4000-8000-{short.encode().hex().rjust(12, '0')}"


def at(day: str, clock_time: str = "12:00:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{clock_time}+00:00")


# (transaction_id, account_id, kind, amount, balance_after, task_id, business_day, recorded_at)
TRANSACTIONS = [
    # E: a 4000 completion early in the month (the month's winner: ties go to the earliest completion)
    ("e-1", "E", "fee", -1000, -1000, "t6", "2026-11-01", at("2026-11-01")),
    ("e-2", "E", "reward", 4000, 3000, "t6", "2026-11-02", at("2026-11-02", "15:00:00")),
    # F: two transactions at the same moment; the later by transaction_id leaves F in the red
    ("f-a", "F", "fee", -1000, 200, "t7", "2026-11-20", at("2026-11-20")),
    ("f-b", "F", "fee", -1000, -800, "t8", "2026-11-20", at("2026-11-20")),
    # Monday 23rd (closed): A earns and is paid
    ("a-1", "A", "fee", -1500, -1500, "t1", "2026-11-23", at("2026-11-23", "09:00:00")),
    ("a-2", "A", "reward", 3000, 1500, "t1", "2026-11-23", at("2026-11-23", "10:00:00")),
    ("a-3", "A", "payout", -1500, 0, None, "2026-11-23", at("2026-11-24", "00:05:00")),
    # Tuesday 24th (closed): two 4000 completions, t4 the earlier one (time decides before the id)
    ("b-1", "B", "fee", -1200, -1200, "t2", "2026-11-24", at("2026-11-24", "08:00:00")),
    ("c-1", "C", "fee", -1000, -1000, "t3", "2026-11-24", at("2026-11-24", "08:30:00")),
    ("c-2", "C", "reward", 4000, 3000, "t3", "2026-11-24", at("2026-11-24", "10:00:00")),
    ("a-4", "A", "fee", -2000, -2000, "t4", "2026-11-24", at("2026-11-24", "08:45:00")),
    ("z-5", "A", "reward", 4000, 2000, "t4", "2026-11-24", at("2026-11-24", "09:00:00")),  # id after c-2's
    ("a-6", "A", "payout", -2000, 0, None, "2026-11-24", at("2026-11-25", "00:05:00")),
    ("c-3", "C", "payout", -3000, 0, None, "2026-11-24", at("2026-11-25", "00:05:00")),
    # Wednesday 25th (today, open): B completes t2 (a task the lake never heard of), D pays a fee
    ("b-2", "B", "reward", 2500, 1300, "t2", "2026-11-25", at("2026-11-25", "09:00:00")),
    ("d-1", "D", "fee", -1800, -1800, "t5", "2026-11-25", at("2026-11-25", "10:00:00")),
    ("d-1", "D", "fee", -1800, -1800, "t5", "2026-11-25", at("2026-11-25", "10:00:00")),  # in two events
]
# (task_id, version, title as sent, title, jira_id, created_at): v1 carries the jira id in its title
TASKS = [
    ("t1", 1, "[UP-1] Feed the parrots", "Feed the parrots", "UP-1", at("2026-11-23", "08:00:00")),
    ("t3", 2, "Clean the cage", "Clean the cage", "UP-3", at("2026-11-24", "08:00:00")),
    ("t4", 2, "Count the seeds", "Count the seeds", "UP-4", at("2026-11-24", "08:00:00")),
    ("t4", 2, "Count the seeds", "Count the seeds", "UP-4", at("2026-11-24", "08:00:01")),  # published twice
    ("t6", 1, "Polish the perch", "Polish the perch", None, at("2026-11-01", "08:00:00")),
]
# (business_day, popugs_paid, total_paid, popugs_in_red, closed at): the close's word is final
CLOSED_DAYS = [
    ("2026-11-23", 1, 1500, 0, at("2026-11-24", "00:06:00")),
    ("2026-11-24", 2, 5000, 3, at("2026-11-25", "00:06:00")),
]


class Tables:
    """The three logical tables held directly in DuckDB; `run` keeps the query layer's contract (values
    as it returns them: dates `YYYY-MM-DD`, timestamps ISO 8601 UTC with a `Z`)."""

    def __init__(self) -> None:
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute("CREATE TABLE transactions (transaction_id VARCHAR, account_id VARCHAR, kind VARCHAR, "
                        "amount BIGINT, balance_after BIGINT, task_id VARCHAR, reason VARCHAR, business_day DATE, "
                        "recorded_at TIMESTAMP)")  # fmt: skip
        self.db.execute("CREATE TABLE tasks (task_id VARCHAR, title VARCHAR, jira_id VARCHAR, created_by VARCHAR, "
                        "created_at TIMESTAMP)")  # fmt: skip
        self.db.execute("CREATE TABLE closed_days (business_day DATE, popugs_paid BIGINT, total_paid BIGINT, "
                        "popugs_in_red BIGINT)")  # fmt: skip
        for tid, account, kind, amount, balance, task, day, moment in TRANSACTIONS:
            self.db.execute("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?, 'why', ?, ?)",
                            [u(tid), u(account), kind, amount, balance, task and u(task), day,
                             moment.replace(tzinfo=None)])  # fmt: skip
        for task, _, _, title, jira_id, moment in TASKS:
            self.db.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?)",
                            [u(task), title, jira_id, ADMIN["sub"], moment.replace(tzinfo=None)])  # fmt: skip
        for day, paid, total, in_red, _ in CLOSED_DAYS:
            self.db.execute("INSERT INTO closed_days VALUES (?, ?, ?, ?)", [day, paid, total, in_red])
        # A logical table holds each row once (tables.union_sql), however often its event was delivered;
        # the query_layer variant lands `d-1` in two events and proves it.
        for table in ("transactions", "tasks", "closed_days"):
            self.db.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT DISTINCT * FROM {table}")
        from analytics import tables

        for aggregate in tables.AGGREGATE_TABLES:  # the daily aggregates, by their own definitions
            (body,) = sqlglot.transpile(aggregate.over("SELECT * FROM transactions"), read="athena", write="duckdb")
            self.db.execute(f"CREATE VIEW {aggregate.name} AS {body}")

    def run(self, sql: str, *, max_rows: int, timeout_seconds: float, state: Any = None) -> Any:
        assert timeout_seconds > 0
        try:
            (translated,) = sqlglot.transpile(sql, read="athena", write="duckdb")
            cursor = self.db.execute(translated)
        except duckdb.Error as error:
            raise query.QueryFailed(str(error)) from None
        columns = [d[0] for d in cursor.description]
        rows = [[self._value(v) for v in row] for row in cursor.fetchmany(max_rows + 1)]
        return SimpleNamespace(columns=columns, rows=rows[:max_rows], truncated=len(rows) > max_rows, elapsed_ms=3)

    @staticmethod
    def _value(value: Any) -> Any:
        if isinstance(value, datetime):
            return clock.iso(value.replace(tzinfo=UTC))
        return value.isoformat() if isinstance(value, date) else value


@pytest.fixture(scope="module")
def landed(provisioned) -> str:
    """A lake bucket of its own on the emulator, holding the rows above as the events that carry them."""
    from analytics import lake
    from shared.aws import client
    from shared.contracts import REGISTRY
    from shared.contracts.accounting import DayClosedV1, TransactionRecordedV1
    from shared.contracts.tasks import TaskCreatedV1, TaskCreatedV2

    bucket = f"analytics-api-{uuid.uuid4().hex[:12]}"
    client("s3").create_bucket(Bucket=bucket)
    with pytest.MonkeyPatch.context() as patch:

        def land(moment: datetime, data: Any) -> None:
            patch.setattr(clock, "now", lambda: moment)
            lake.put_raw(bucket, REGISTRY.envelope(data))

        for tid, account, kind, amount, balance, task, day, moment in TRANSACTIONS:
            land(moment, TransactionRecordedV1(
                transaction_id=u(tid), account_id=u(account), kind=kind, amount=amount, balance_after=balance,
                task_id=task and u(task), reason="why", business_day=day))  # fmt: skip
        for task, version, sent, _, jira_id, moment in TASKS:
            if version == 1:
                land(moment, TaskCreatedV1(task_id=u(task), title=sent, created_by=ADMIN["sub"]))
            else:
                land(moment, TaskCreatedV2(task_id=u(task), title=sent, jira_id=jira_id, created_by=ADMIN["sub"]))
        for day, paid, total, in_red, moment in CLOSED_DAYS:
            land(moment, DayClosedV1(business_day=day, popugs_paid=paid, total_paid=total, popugs_in_red=in_red))
    return bucket


class Lake:
    """What the handlers ask of the query layer (`calls`), answered by `engine`; `timeout` makes every
    query run out of time."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.calls: list[str] = []
        self.timeout = False

    def run(self, sql: str, *, max_rows: int, timeout_seconds: float, state: Any = None) -> Any:
        self.calls.append(sql)
        if self.timeout:
            raise query.QueryTimeout(f"stopped after {timeout_seconds} s")
        return self.engine(sql, max_rows=max_rows, timeout_seconds=timeout_seconds, state=state)

    def count(self, table: str) -> int:
        return self.engine(f"SELECT count(*) FROM {table}", max_rows=1, timeout_seconds=20).rows[0][0]


@pytest.fixture(params=["tables", "query_layer"])
def lake(request, as_function, monkeypatch) -> Iterator[Lake]:
    as_function("AnalyticsApiFunction")
    monkeypatch.setenv("BUSINESS_TIMEZONE", "UTC")
    if request.param == "tables":
        engine = Tables().run
    else:
        monkeypatch.setenv("LAKE_BUCKET", request.getfixturevalue("landed"))
        monkeypatch.setenv("ANALYTICS_QUERY_ENGINE", "duckdb")  # the emulator has no Athena
        engine = query.run
    from analytics import settings

    settings.get.cache_clear()
    lake = Lake(engine)
    monkeypatch.setattr(query, "run", lake.run)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    yield lake
    settings.get.cache_clear()


def get(path: str, params: dict[str, str] | None = None, who: dict[str, str] = ADMIN) -> tuple[int, dict[str, Any]]:
    from analytics import api

    return call(api.lambda_handler, api_event("GET", f"/api{path}", caller=who, query=params))


def post(body: Any, who: dict[str, str] = ADMIN, raw_body: str | None = None) -> tuple[int, dict[str, Any]]:
    from analytics import api

    return call(api.lambda_handler, api_event("POST", "/api/analytics/query", body=body, caller=who, raw_body=raw_body))


# --- the dashboard ----------------------------------------------------------------------------------------


def test_r_an_3_dashboard_of_today_management_earnings_and_popugs_in_the_red(lake):
    status, body = get("/analytics/dashboard")
    # today (the business timezone's): D's fee counted once, B's reward; in the red now: D and F
    assert (status, body) == (200, {"date": "2026-11-25", "management_earnings": -700, "popugs_in_red": 2,
                                    "closed": False})  # fmt: skip


def test_r_an_3_a_closed_day_takes_the_popugs_in_the_red_from_its_close(lake):
    status, body = get("/analytics/dashboard", {"date": "2026-11-24"})
    fees, rewards = 1200 + 1000 + 2000, 4000 + 4000
    assert (status, body) == (200, {"date": "2026-11-24", "management_earnings": fees - rewards,
                                    "popugs_in_red": 3, "closed": True})  # fmt: skip


def test_r_an_3_an_open_past_day_counts_balances_as_they_stood_then(lake):
    status, body = get("/analytics/dashboard", {"date": "2026-11-22"})
    assert (status, body) == (200, {"date": "2026-11-22", "management_earnings": 0, "popugs_in_red": 1,
                                    "closed": False})  # fmt: skip


def test_today_is_the_business_timezones(lake, monkeypatch):
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Pacific/Auckland")  # UTC+13: already Thursday there
    from analytics import settings

    settings.get.cache_clear()
    assert get("/analytics/dashboard")[1]["date"] == "2026-11-26"
    assert get("/analytics/most-expensive-task", {"period": "day"})[1]["from"] == "2026-11-26"


# --- the most expensive task --------------------------------------------------------------------------------

T1 = {"task_id": u("t1"), "title": "Feed the parrots", "jira_id": "UP-1", "reward": 3000}
T2 = {"task_id": u("t2"), "title": None, "jira_id": None, "reward": 2500}
T4 = {"task_id": u("t4"), "title": "Count the seeds", "jira_id": "UP-4", "reward": 4000}
T6 = {"task_id": u("t6"), "title": "Polish the perch", "jira_id": None, "reward": 4000}


def test_r_an_3_most_expensive_task_of_a_day_ties_to_the_earliest_completion(lake):
    status, body = get("/analytics/most-expensive-task", {"period": "day", "date": "2026-11-24"})
    assert (status, body) == (200, {"period": "day", "from": "2026-11-24", "to": "2026-11-24", "task": T4,
                                    "series": [{"date": "2026-11-24", "task": T4}]})  # fmt: skip


def test_r_an_3_most_expensive_task_of_the_iso_week_with_its_series(lake):
    status, body = get("/analytics/most-expensive-task", {"period": "week", "date": "2026-11-25"})
    assert status == 200
    assert (body["period"], body["from"], body["to"], body["task"]) == ("week", "2026-11-23", "2026-11-29", T4)
    assert body["series"] == [
        {"date": "2026-11-23", "task": T1}, {"date": "2026-11-24", "task": T4}, {"date": "2026-11-25", "task": T2},
        *({"date": f"2026-11-{d}", "task": None} for d in range(26, 30)),
    ]  # fmt: skip


def test_r_an_3_most_expensive_task_of_the_month_ties_across_days_to_the_earliest(lake):
    status, body = get("/analytics/most-expensive-task", {"period": "month", "date": "2026-11-25"})
    assert (status, body["from"], body["to"], body["task"]) == (200, "2026-11-01", "2026-11-30", T6)
    assert len(body["series"]) == 30
    assert body["series"][0] == {"date": "2026-11-01", "task": None}  # a fee is no completion
    assert body["series"][1] == {"date": "2026-11-02", "task": T6}


def test_a_period_without_completions_has_no_task_and_a_full_series(lake):
    status, body = get("/analytics/most-expensive-task", {"period": "week", "date": "2026-12-01"})
    assert (status, body["from"], body["to"], body["task"]) == (200, "2026-11-30", "2026-12-06", None)
    assert [d["task"] for d in body["series"]] == [None] * 7


def test_the_most_expensive_task_defaults_to_today(lake):
    status, body = get("/analytics/most-expensive-task", {"period": "day"})
    assert (status, body["from"], body["task"]) == (200, "2026-11-25", T2)


# --- daily trends ---------------------------------------------------------------------------------------------


def test_daily_trends_have_every_day_of_the_range(lake):
    status, body = get("/analytics/daily", {"from": "2026-11-22", "to": "2026-11-27"})
    assert (status, body["from"], body["to"]) == (200, "2026-11-22", "2026-11-27")
    quiet = {"management_earnings": 0, "fees": 0, "rewards": 0, "payouts": 0, "tasks_completed": 0, "closed": False,
             "popugs_paid": None, "popugs_in_red": None}  # fmt: skip
    assert body["items"] == [
        {"date": "2026-11-22", **quiet},
        {"date": "2026-11-23", "management_earnings": -1500, "fees": 1500, "rewards": 3000, "payouts": 1500,
         "tasks_completed": 1, "closed": True, "popugs_paid": 1, "popugs_in_red": 0},
        {"date": "2026-11-24", "management_earnings": -3800, "fees": 4200, "rewards": 8000, "payouts": 5000,
         "tasks_completed": 2, "closed": True, "popugs_paid": 2, "popugs_in_red": 3},
        {"date": "2026-11-25", "management_earnings": -700, "fees": 1800, "rewards": 2500, "payouts": 0,
         "tasks_completed": 1, "closed": False, "popugs_paid": None, "popugs_in_red": None},
        {"date": "2026-11-26", **quiet},
        {"date": "2026-11-27", **quiet},
    ]  # fmt: skip


def test_daily_trends_default_to_the_30_days_up_to_today(lake):
    status, body = get("/analytics/daily")
    assert (status, body["from"], body["to"], len(body["items"])) == (200, "2026-10-27", "2026-11-25", 30)


# --- the SQL console ------------------------------------------------------------------------------------------


def test_r_an_3_the_console_runs_a_select_and_returns_columns_and_rows(lake):
    sql = "SELECT kind, count(*) AS n, sum(amount) AS total FROM transactions GROUP BY kind ORDER BY kind"
    status, body = post({"sql": sql})
    assert status == 200, body
    assert body["columns"] == ["kind", "n", "total"]
    # d-1 arrived in two events and counts once: a logical table holds each row once
    assert body["rows"] == [["fee", 8, -10500], ["payout", 3, -6500], ["reward", 5, 17500]]
    assert body["truncated"] is False and isinstance(body["elapsed_ms"], int)
    assert lake.calls == ["SELECT kind, COUNT(*) AS n, SUM(amount) AS total FROM transactions GROUP BY kind "
                          "ORDER BY kind LIMIT 1001"]  # fmt: skip


def test_the_console_returns_dates_as_iso_text(lake):
    sql = f"SELECT business_day, recorded_at FROM transactions WHERE transaction_id = '{u('e-2')}'"
    status, body = post({"sql": sql})
    assert (status, body["rows"]) == (200, [["2026-11-02", "2026-11-02T15:00:00.000Z"]])


def test_r_an_3_the_console_bounds_rows_and_says_so(lake):
    status, body = post({"sql": "SELECT transaction_id FROM transactions ORDER BY 1", "max_rows": 3})
    assert (status, body["rows"], body["truncated"]) == (200, [[u("a-1")], [u("a-2")], [u("a-3")]], True)
    assert lake.calls[-1].endswith("LIMIT 4")
    status, body = post({"sql": "SELECT transaction_id FROM transactions ORDER BY 1 LIMIT 2", "max_rows": 3})
    assert (status, len(body["rows"]), body["truncated"]) == (200, 2, False)


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE transactions",
        "DELETE FROM transactions",
        "SELECT 1; DROP TABLE transactions",
        "SELECT 1; -- \nDELETE FROM transactions",
        "SELECT * FROM read_csv('http://evil.example/x.csv')",
        "SELECT * FROM read_parquet('s3://elsewhere/x.parquet')",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM duckdb_tables()",
        "COPY transactions TO 'out.csv'",
        "ATTACH 'other.duckdb'",
        "PRAGMA database_list",
    ],
)
def test_r_an_3_anything_but_one_select_is_refused_with_422_and_runs_nothing(lake, sql):
    status, body = post({"sql": sql})
    assert (status, body["error"]["code"]) == (422, "query_refused"), body
    assert body["error"]["message"].startswith("query refused: ")
    assert lake.calls == []
    assert lake.count("transactions") == len(set(TRANSACTIONS))  # each row once


def test_a_query_the_engine_rejects_is_422_with_the_engines_reason(lake):
    status, body = post({"sql": "SELECT no_such_column FROM transactions"})
    assert (status, body["error"]["code"]) == (422, "query_failed")
    assert "no_such_column" in body["error"]["message"]


def test_a_query_that_runs_out_of_time_is_422_asking_for_a_narrower_query(lake):
    lake.timeout = True
    status, body = post({"sql": "SELECT * FROM transactions"})
    assert (status, body["error"]["code"]) == (422, "query_timeout")
    assert "narrow" in body["error"]["message"]
    status, body = get("/analytics/dashboard")
    assert (status, body["error"]["code"]) == (504, "query_timeout")


@pytest.mark.parametrize(
    "body",
    [{"sql": "SELECT 1" + " " * 10_000}, {"sql": ""}, {"sql": "SELECT 1", "max_rows": 0},
     {"sql": "SELECT 1", "max_rows": 1001}, {"sql": 42}, {}, {"sql": "SELECT 1", "extra": True}],
)  # fmt: skip
def test_a_malformed_console_request_is_422(lake, body):
    status, answer = post(body)
    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert lake.calls == []


def test_a_console_body_that_is_not_json_is_400(lake):
    status, body = post(None, raw_body="{not json")
    assert (status, body["error"]["code"]) == (400, "bad_request")


# --- who may ask, and bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("roles", ["worker", "manager", "accountant", "manager,accountant,worker"])
def test_r_an_3_only_admins_see_analytics(lake, roles):
    who = someone(roles)
    for path, params in [("/analytics/dashboard", None), ("/analytics/most-expensive-task", {"period": "week"}),
                        ("/analytics/daily", {"from": "2026-11-01", "to": "2026-11-02"})]:  # fmt: skip
        status, body = get(path, params, who)
        assert (status, body["error"]["code"]) == (403, "forbidden"), path
    status, body = post({"sql": "SELECT 1"}, who)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert lake.calls == []
    assert get("/analytics/dashboard", None, someone("worker,admin"))[0] == 200


def test_without_a_caller_it_is_401(lake):
    from analytics import api

    status, body = call(api.lambda_handler, api_event("GET", "/api/analytics/dashboard"))
    assert (status, body["error"]["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/analytics/dashboard", {"date": "2026-02-30"}, "invalid_date"),
        ("/analytics/dashboard", {"date": "25.11.2026"}, "invalid_date"),
        ("/analytics/most-expensive-task", {"period": "year", "date": "2026-11-25"}, "invalid_period"),
        ("/analytics/most-expensive-task", {"date": "2026-11-25"}, "invalid_period"),
        ("/analytics/most-expensive-task", {"period": "week", "date": "next week"}, "invalid_date"),
        ("/analytics/daily", {"from": "2026-11-30", "to": "2026-11-01"}, "invalid_range"),
        ("/analytics/daily", {"from": "2025-01-01", "to": "2026-01-02"}, "invalid_range"),
        ("/analytics/daily", {"from": "2026-11-01", "to": "2026-13-01"}, "invalid_date"),
        ("/analytics/daily", {"from": "2026-11-26"}, "invalid_range"),  # `to` defaults to today, the 25th
    ],
)
def test_bad_dates_periods_and_ranges_are_422_and_query_nothing(lake, path, params, code):
    status, body = get(path, params)
    assert (status, body["error"]["code"]) == (422, code), body
    assert lake.calls == []
