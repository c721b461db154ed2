"""Analytics HTTP API (R-AN-3), admins only: the dashboard of a day (management earnings, popugs in the
red), the most expensive task of a day, ISO week or calendar month with its per-day series, daily
trends over a range, and a read-only SQL console over the analytics tables (SELECT only, bounded rows
and time).

Every route answers from the lake through `analytics.query` (Athena in AWS, DuckDB locally, R-AN-4).
The console's SQL passes `console.guard` first: anything else is refused with 422 and runs nothing. A
console query that runs out of time is a 422 (`query_timeout`): bounded time is part of its contract,
and the fix is a narrower query. A dashboard query that runs out of time is a 504.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from analytics import console, domain, metrics_api, queries, query, runner
from analytics.settings import get as settings
from shared import clock, csv_export
from shared.errors import DomainError
from shared.http import ResponseModel, caller, errors, make_resolver, only
from shared.observability import logger, tracer

app = make_resolver()

# Checked strictly by domain.parse_day / parse_period, with messages that name the parameter.
DateParam = Annotated[str | None, Query(max_length=32)]
MAX_CONSOLE_ROWS = runner.MAX_ROWS
DEFAULT_TREND_DAYS = 30


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(min_length=1, max_length=console.MAX_SQL_CHARS)
    max_rows: int | None = Field(default=None, ge=1, le=MAX_CONSOLE_ROWS)


class DashboardTimeout(DomainError):
    status, code = 504, "query_timeout"


TIMED_OUT = (504, "the analytics query ran out of time (`query_timeout`)")
Cents = Annotated[int, Field(description="integer cents")]


class DashboardView(ResponseModel):
    date: str
    management_earnings: Cents
    popugs_in_red: int
    closed: bool


class PricedTaskView(ResponseModel):
    task_id: str
    title: str | None
    jira_id: str | None
    reward: Cents


class DayWinner(ResponseModel):
    date: str
    task: PricedTaskView | None = Field(description="null on a day without a completion")


class MostExpensiveView(ResponseModel):
    period: domain.Period
    from_: str = Field(alias="from")
    to: str
    task: PricedTaskView | None
    series: list[DayWinner]


class DailyTrendView(ResponseModel):
    date: str
    management_earnings: Cents
    fees: Cents
    rewards: Cents
    payouts: Cents
    tasks_completed: int
    closed: bool
    popugs_paid: int | None = Field(description="known once the day is closed")
    popugs_in_red: int | None = Field(description="known once the day is closed")


class DailyView(ResponseModel):
    from_: str = Field(alias="from")
    to: str
    items: list[DailyTrendView]


QueryResultView = runner.QueryResultView


def _today() -> date:
    return domain.today(clock.now(), settings().business_timezone)


def _dashboard_timeout() -> DashboardTimeout:
    return DashboardTimeout(
        f"the analytics query did not finish within {settings().query_timeout_seconds} s; try again in a moment "
        "or ask about a shorter period"
    )


# --- dashboards ---------------------------------------------------------------------------------------


@app.get("/analytics/dashboard", **only(*domain.ROLES), responses=errors(TIMED_OUT))
def dashboard(date: DateParam = None) -> DashboardView:
    day = domain.parse_day(date) if date is not None else _today()
    try:
        return queries.dashboard(day).public()
    except query.QueryTimeout:
        raise _dashboard_timeout() from None


@app.get("/analytics/most-expensive-task", **only(*domain.ROLES), responses=errors(TIMED_OUT))
def most_expensive_task(
    period: Annotated[str | None, Query(max_length=16)] = None, date: DateParam = None
) -> MostExpensiveView:
    chosen = domain.parse_period(period)
    day = domain.parse_day(date) if date is not None else _today()
    try:
        return queries.most_expensive(chosen, day)
    except query.QueryTimeout:
        raise _dashboard_timeout() from None


@app.get("/analytics/daily", **only(*domain.ROLES), responses=errors(TIMED_OUT))
def daily(from_: Annotated[str | None, Query(alias="from", max_length=32)] = None, to: DateParam = None) -> DailyView:
    last = to if to is not None else _today().isoformat()
    if from_ is None:  # the 30 days up to `to`
        from_ = (domain.parse_day(last, "to") - timedelta(days=DEFAULT_TREND_DAYS - 1)).isoformat()
    start, end = domain.parse_range(from_, last)
    try:
        items = queries.daily(start, end)
    except query.QueryTimeout:
        raise _dashboard_timeout() from None
    return {"from": start.isoformat(), "to": end.isoformat(), "items": [i.public() for i in items]}


# --- the SQL console ----------------------------------------------------------------------------------


@app.post("/analytics/query", **runner.csv_too(only(*domain.ROLES)))
def run_query(request: QueryRequest, format: runner.Format = None) -> QueryResultView:
    limit = runner.row_limit(request.max_rows)
    guarded = console.guard(request.sql, limit)
    return runner.run(guarded, limit, caller(app).employee_id)


app.include_router(metrics_api.router)


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    stem = "-".join(p for p in (event.get("path") or "").split("/") if p and p not in {"api", "run"})
    return csv_export.response(event, app.resolve(event, context), stem or "result")
