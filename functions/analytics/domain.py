"""Pure analytics rules (SPEC §7, §11): the dates and periods the dashboards ask about, and the shape of
their answers built from query rows.

No I/O here: `queries` turns validated dates into SQL and rows into these values. Dates are strict ISO
(`2026-11-27`); a range is inclusive and covers at most 366 days; a period is a day, the ISO week
(Monday to Sunday) containing a date, or its calendar month. Money is integer cents.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.errors import Unprocessable
from shared.problems import FieldProblem, bad_range, invalid, not_a_date

MAX_RANGE_DAYS = 366  # SPEC §11: date ranges are at most 366 days
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PERIODS = ("day", "week", "month")
ROLES = ("admin",)  # R-AN-3: admins only

Period = Literal["day", "week", "month"]


# --- dates, ranges, periods ---------------------------------------------------------------------------


def parse_day(value: str | None, name: str = "date") -> date:
    """A strict ISO date (2026-11-27) or a 422 `invalid_date` naming the parameter."""
    if not ISO_DATE.fullmatch(value or ""):
        raise not_a_date(name, value)
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise not_a_date(name, value, calendar=True) from None


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    """An inclusive range `from..to` of at most 366 days, or a 422 (`invalid_date`, `invalid_range`)."""
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise bad_range(first, last, MAX_RANGE_DAYS)
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise bad_range(first, last, MAX_RANGE_DAYS)
    return first, last


def parse_period(value: str | None) -> Period:
    if value not in PERIODS:
        raise _bad_period(value)
    return value  # type: ignore[return-value]


def period_bounds(period: Period, day: date) -> tuple[date, date]:
    """The inclusive first and last day of the `period` containing `day`: the day itself, its ISO week
    (Monday to Sunday, which may straddle two years), or its calendar month."""
    if period == "day":
        return day, day
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=6)
    if period == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    raise _bad_period(period)


def _bad_period(value: object) -> Unprocessable:
    message = f"The period {value!r} is not one we know: choose {', '.join(PERIODS[:-1])} or {PERIODS[-1]}."
    return invalid([FieldProblem("period", "query", "unknown_period", message)], code="invalid_period")


def today(now: datetime, timezone: str) -> date:
    """The calendar day it is now in the business timezone (the dashboard's default date)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- values as the engines return them ------------------------------------------------------------------
# DuckDB returns Python types; Athena returns strings. Both become what the API promises.


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def as_day(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def named(columns: list[str], rows: list[list[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=False)) for row in rows]


def jsonable(value: Any) -> Any:
    """A console cell as JSON: dates and times in ISO 8601, whole decimals as integers, NaN as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


# --- the dashboard (R-AN-3) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Dashboard:
    """Management earnings of a business day (R-ACC-6 definition: minus the sum of that day's fee and
    reward transactions) and the popugs in the red: from the day's close once it is closed, otherwise
    the accounts whose latest balance (of the transactions up to that day) is below zero."""

    date: str
    management_earnings: int
    popugs_in_red: int
    closed: bool

    def public(self) -> dict[str, Any]:
        return {"date": self.date, "management_earnings": self.management_earnings,
                "popugs_in_red": self.popugs_in_red, "closed": self.closed}  # fmt: skip


def dashboard(day: date, row: dict[str, Any] | None) -> Dashboard:
    row = row or {}
    closed = (as_int(row.get("closed")) or 0) > 0
    in_red = as_int(row.get("closed_in_red")) if closed else as_int(row.get("open_in_red"))
    return Dashboard(
        date=day.isoformat(), management_earnings=as_int(row.get("management_earnings")) or 0,
        popugs_in_red=in_red or 0, closed=closed,
    )  # fmt: skip


# --- the most expensive task (R-AN-3) -------------------------------------------------------------------


@dataclass(frozen=True)
class PricedTask:
    task_id: str
    title: str | None
    jira_id: str | None
    reward: int

    def public(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "title": self.title, "jira_id": self.jira_id, "reward": self.reward}


def _priced(row: dict[str, Any]) -> PricedTask:
    return PricedTask(task_id=str(row["task_id"]), title=as_text(row.get("title")), jira_id=as_text(row.get("jira_id")),
                      reward=as_int(row["reward"]) or 0)  # fmt: skip


def most_expensive(period: Period, first: date, last: date, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer of `GET /analytics/most-expensive-task` from the per-day winners (one row per day with a
    completion; `is_top` marks the period's winner: highest reward, ties to the earliest completion).
    Every day of the period is in the series, `task: null` on days without a completion."""
    by_day = {as_day(r["business_day"]): r for r in rows}
    top = next((r for r in rows if as_int(r.get("is_top")) == 1), None)
    series = []
    for day in dates(first, last):
        row = by_day.get(day.isoformat())
        series.append({"date": day.isoformat(), "task": _priced(row).public() if row else None})
    return {"period": period, "from": first.isoformat(), "to": last.isoformat(),
            "task": _priced(top).public() if top else None, "series": series}  # fmt: skip


# --- daily trends ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyTrend:
    date: str
    fees: int = 0  # positive sums, in cents
    rewards: int = 0
    payouts: int = 0
    tasks_completed: int = 0
    closed: bool = False
    popugs_paid: int | None = None  # known once the day is closed
    popugs_in_red: int | None = None

    def public(self) -> dict[str, Any]:
        return {
            "date": self.date, "management_earnings": self.fees - self.rewards, "fees": self.fees,
            "rewards": self.rewards, "payouts": self.payouts, "tasks_completed": self.tasks_completed,
            "closed": self.closed, "popugs_paid": self.popugs_paid, "popugs_in_red": self.popugs_in_red,
        }  # fmt: skip


def daily(first: date, last: date, rows: list[dict[str, Any]]) -> list[DailyTrend]:
    """One item per day of the range, zeros where nothing happened."""
    by_day = {as_day(r["business_day"]): r for r in rows}
    items = []
    for day in dates(first, last):
        row = by_day.get(day.isoformat(), {})
        closed = bool(as_int(row.get("closed")))
        items.append(
            DailyTrend(
                date=day.isoformat(), fees=as_int(row.get("fees")) or 0, rewards=as_int(row.get("rewards")) or 0,
                payouts=as_int(row.get("payouts")) or 0, tasks_completed=as_int(row.get("tasks_completed")) or 0,
                closed=closed, popugs_paid=as_int(row.get("popugs_paid")) if closed else None,
                popugs_in_red=as_int(row.get("popugs_in_red")) if closed else None,
            )
        )  # fmt: skip
    return items
