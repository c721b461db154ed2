"""Pure analytics rules (SPEC §7, §11): strict dates, inclusive ranges of at most 366 days, the periods
of R-AN-3 (a day, the ISO week Monday..Sunday, the calendar month), the business timezone's today, and
the answers built from query rows (every day present, zeros and nulls where nothing happened)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from analytics import domain, queries
from shared.errors import Unprocessable

FULLWIDTH_YEAR = "\uff12\uff10\uff12\uff16-11-27"


@pytest.mark.parametrize("value", ["2026-13-01", "2026-02-30", "27.11.2026", "2026-1-5", "yesterday", "", None,
                                   "2026-11-27T00:00:00", " 2026-11-27", FULLWIDTH_YEAR, "2026-11-27\n"])  # fmt: skip
def test_dates_are_strict_iso_or_422_invalid_date(value):
    with pytest.raises(Unprocessable) as raised:
        domain.parse_day(value, "date")
    assert raised.value.code == "invalid_date" and raised.value.status == 422
    assert "date" in raised.value.message


def test_a_good_date_parses():
    assert domain.parse_day("2024-02-29") == date(2024, 2, 29)


def test_ranges_are_inclusive_and_at_most_366_days():
    assert domain.parse_range("2026-11-01", "2026-11-01") == (date(2026, 11, 1), date(2026, 11, 1))
    assert domain.parse_range("2024-01-01", "2024-12-31") == (date(2024, 1, 1), date(2024, 12, 31))  # 366 days
    for start, end in [("2025-01-01", "2026-01-02"), ("2026-12-02", "2026-12-01")]:
        with pytest.raises(Unprocessable) as raised:
            domain.parse_range(start, end)
        assert raised.value.code == "invalid_range"
    with pytest.raises(Unprocessable) as raised:
        domain.parse_range("2026-11-01", "2026-11-31")
    assert raised.value.code == "invalid_date" and raised.value.message.startswith("The end date ")
    assert [f["field"] for f in raised.value.details["fields"]] == ["to"]


def test_periods_day_iso_week_and_month():
    wednesday = date(2026, 11, 25)
    assert domain.period_bounds("day", wednesday) == (wednesday, wednesday)
    assert domain.period_bounds("week", wednesday) == (date(2026, 11, 23), date(2026, 11, 29))
    assert domain.period_bounds("week", date(2026, 11, 23)) == (date(2026, 11, 23), date(2026, 11, 29))  # Monday
    assert domain.period_bounds("week", date(2026, 11, 29)) == (date(2026, 11, 23), date(2026, 11, 29))  # Sunday
    assert domain.period_bounds("month", wednesday) == (date(2026, 11, 1), date(2026, 11, 30))
    assert domain.period_bounds("month", date(2024, 2, 10)) == (date(2024, 2, 1), date(2024, 2, 29))
    assert domain.period_bounds("month", date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_an_iso_week_crosses_the_year_boundary():
    # 2026-01-01 is a Thursday: its ISO week (2026-W01) starts on Monday 2025-12-29.
    assert domain.period_bounds("week", date(2026, 1, 1)) == (date(2025, 12, 29), date(2026, 1, 4))
    assert domain.period_bounds("week", date(2025, 12, 29)) == (date(2025, 12, 29), date(2026, 1, 4))
    # 2027-01-01 is a Friday, in 2026-W53 (Monday 2026-12-28 .. Sunday 2027-01-03).
    assert domain.period_bounds("week", date(2027, 1, 3)) == (date(2026, 12, 28), date(2027, 1, 3))


@pytest.mark.parametrize("value", ["year", "Week", "", None, "days"])
def test_an_unknown_period_is_422_invalid_period(value):
    with pytest.raises(Unprocessable) as raised:
        domain.parse_period(value)
    assert raised.value.code == "invalid_period"


def test_today_is_the_business_timezones_day():
    moment = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
    assert domain.today(moment, "UTC") == date(2026, 11, 24)
    assert domain.today(moment, "Pacific/Auckland") == date(2026, 11, 25)  # UTC+13 in November
    assert domain.today(datetime(2026, 11, 25, 2, 0, tzinfo=UTC), "America/New_York") == date(2026, 11, 24)


def test_the_dashboard_takes_the_close_once_the_day_is_closed():
    open_day = domain.dashboard(date(2026, 11, 25), {"management_earnings": "-700", "open_in_red": "2",
                                                     "closed": "0", "closed_in_red": None})  # fmt: skip
    assert open_day.public() == {"date": "2026-11-25", "management_earnings": -700, "popugs_in_red": 2,
                                 "closed": False}  # fmt: skip
    closed_day = domain.dashboard(date(2026, 11, 24), {"management_earnings": 10, "open_in_red": 2, "closed": 1,
                                                       "closed_in_red": 3})  # fmt: skip
    assert (closed_day.popugs_in_red, closed_day.closed) == (3, True)
    assert domain.dashboard(date(2026, 11, 24), None).public()["management_earnings"] == 0


def test_the_most_expensive_series_has_every_day_and_the_marked_winner():
    rows = [
        {"business_day": date(2026, 11, 24), "task_id": "t4", "title": "Feed", "jira_id": "UP-4", "reward": 4000,
         "is_top": 1},
        {"business_day": "2026-11-26", "task_id": "t2", "title": None, "jira_id": None, "reward": "2500",
         "is_top": "0"},
    ]  # fmt: skip
    answer = domain.most_expensive("week", date(2026, 11, 23), date(2026, 11, 29), rows)
    assert answer["task"] == {"task_id": "t4", "title": "Feed", "jira_id": "UP-4", "reward": 4000}
    assert [d["date"] for d in answer["series"]] == [f"2026-11-{n}" for n in range(23, 30)]
    assert [d["task"]["task_id"] if d["task"] else None for d in answer["series"]] == [
        None, "t4", None, "t2", None, None, None]  # fmt: skip
    assert domain.most_expensive("day", date(2026, 11, 1), date(2026, 11, 1), [])["task"] is None


def test_daily_fills_every_day_and_hides_close_numbers_of_open_days():
    rows = [{"business_day": date(2026, 11, 2), "fees": 1800, "rewards": 2500, "payouts": 0, "tasks_completed": 1,
             "closed": 0, "popugs_paid": None, "popugs_in_red": None},
            {"business_day": date(2026, 11, 3), "fees": None, "rewards": None, "payouts": None,
             "tasks_completed": None, "closed": 1, "popugs_paid": 0, "popugs_in_red": 4}]  # fmt: skip
    items = [i.public() for i in domain.daily(date(2026, 11, 1), date(2026, 11, 3), rows)]
    assert items[0] == {"date": "2026-11-01", "management_earnings": 0, "fees": 0, "rewards": 0, "payouts": 0,
                        "tasks_completed": 0, "closed": False, "popugs_paid": None, "popugs_in_red": None}  # fmt: skip
    assert items[1]["management_earnings"] == -700 and items[1]["popugs_in_red"] is None
    assert items[2] == {"date": "2026-11-03", "management_earnings": 0, "fees": 0, "rewards": 0, "payouts": 0,
                        "tasks_completed": 0, "closed": True, "popugs_paid": 0, "popugs_in_red": 4}  # fmt: skip


def test_console_cells_become_json():
    cells = [date(2026, 11, 25), datetime(2026, 11, 25, 1, 2, 3), Decimal("12"), Decimal("1.5"), float("nan"),
             b"\x01", [Decimal("2")], {"a": date(2026, 1, 1)}, None, True]  # fmt: skip
    assert [domain.jsonable(c) for c in cells] == ["2026-11-25", "2026-11-25T01:02:03", 12, 1.5, None, "01", [2],
                                                   {"a": "2026-01-01"}, None, True]  # fmt: skip


def test_dates_reach_the_sql_only_as_date_literals():
    assert queries.literal(date(2026, 11, 25)) == "DATE '2026-11-25'"
    with pytest.raises(TypeError):
        queries.literal("2026-11-25'; DROP TABLE transactions; --")  # type: ignore[arg-type]
    assert "DATE '2026-11-23' AND DATE '2026-11-29'" in queries.most_expensive_sql(date(2026, 11, 23),
                                                                                   date(2026, 11, 29))  # fmt: skip
