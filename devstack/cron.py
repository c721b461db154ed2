"""Schedule expressions of EventBridge rules and EventBridge Scheduler: `rate()`, `cron()`, `at()`.

Minute precision, evaluated in the schedule's timezone (zoneinfo), since moto never fires schedules.
AWS cron has six fields (minutes hours day-of-month month day-of-week year), day-of-week 1-7 = SUN-SAT,
`?` in one of the two day fields, and `L`, `W`, `#`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

UTC = dt.UTC
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS = {name.upper(): number for name, number in _MONTHS.items()}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
SEARCH_DAYS = 366 * 5


class ExpressionError(ValueError):
    """Not a schedule expression devstack understands; the message says why."""


class Expression:
    """A parsed schedule expression."""

    def next_after(self, moment: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
        """The first fire time strictly after `moment` (aware, UTC); None when it never fires again."""
        raise NotImplementedError


@dataclass(frozen=True)
class Rate(Expression):
    seconds: int

    def next_after(self, moment: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
        periods = int((moment - anchor).total_seconds() // self.seconds) + 1
        return anchor + dt.timedelta(seconds=self.seconds * max(periods, 1))


@dataclass(frozen=True)
class At(Expression):
    when: dt.datetime  # aware

    def next_after(self, moment: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
        return self.when if self.when > moment else None


@dataclass(frozen=True)
class Cron(Expression):
    minutes: frozenset[int]
    hours: frozenset[int]
    days: str  # day-of-month field, kept as text for L / W
    months: frozenset[int]
    weekdays: str  # day-of-week field, kept as text for L / #
    years: frozenset[int]
    zone: dt.tzinfo

    def next_after(self, moment: dt.datetime, anchor: dt.datetime) -> dt.datetime | None:
        local = moment.astimezone(self.zone)
        day = local.date()
        for _ in range(SEARCH_DAYS):
            if self.day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        if candidate.astimezone(UTC) > moment:
                            return candidate.astimezone(UTC)
            day += dt.timedelta(days=1)
        return None

    def day_matches(self, day: dt.date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        if self.days != "?":
            return _day_of_month_matches(self.days, day)
        return _day_of_week_matches(self.weekdays, day)


def parse(expression: str, timezone: str = "UTC") -> Expression:
    """Parse `rate(...)`, `cron(...)` or `at(...)`; `timezone` applies to cron and at."""
    text = expression.strip()
    try:
        zone: dt.tzinfo = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError) as error:
        raise ExpressionError(f"unknown timezone {timezone!r}") from error
    if match := _RATE.match(text):
        value, unit = int(match.group(1)), match.group(2).rstrip("s")
        if value < 1:
            raise ExpressionError(f"{expression}: the rate must be at least 1")
        return Rate(value * _UNIT_SECONDS[unit])
    if text.startswith("at(") and text.endswith(")"):
        try:
            when = dt.datetime.fromisoformat(text[3:-1].strip())
        except ValueError as error:
            raise ExpressionError(f"{expression}: at() wants yyyy-mm-ddThh:mm:ss") from error
        return At(when.replace(tzinfo=zone).astimezone(UTC))
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(text[5:-1].split(), zone, expression)
    raise ExpressionError(f"{expression!r} is not rate(...), cron(...) or at(...)")


def _cron(fields: list[str], zone: dt.tzinfo, expression: str) -> Cron:
    if len(fields) != 6:
        raise ExpressionError(f"{expression}: cron() needs 6 fields (minutes hours day month weekday year)")
    minutes, hours, days, months, weekdays, years = fields
    if (days == "?") == (weekdays == "?"):
        raise ExpressionError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    try:
        cron = Cron(
            minutes=_values(minutes, 0, 59),
            hours=_values(hours, 0, 23),
            days=days.upper(),
            months=_values(months, 1, 12, _MONTHS),
            weekdays=weekdays.upper(),
            years=_values(years, 1970, 2199),
            zone=zone,
        )
        today = dt.date(2024, 1, 1)  # validate the day fields once, with any date
        _day_of_month_matches(cron.days, today) if days != "?" else _day_of_week_matches(cron.weekdays, today)
    except (ValueError, KeyError) as error:
        raise ExpressionError(f"{expression}: {error}") from error
    return cron


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A numeric cron field (`*`, `?`, lists, ranges, steps, names) as the set of values it allows."""
    result: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {text!r}")
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = _value(first, names), _value(last, names)
        else:
            start = _value(base, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"{text!r} is outside {low}-{high}")
        span = list(range(start, end + 1)) if start <= end else [*range(start, high + 1), *range(low, end + 1)]
        result.update(span[::step])
    return frozenset(result)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    return int(text)


def _day_of_month_matches(field: str, day: dt.date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if field == "L":
        return day.day == last
    if field == "LW":
        return day == _nearest_weekday(day, last)
    if field.endswith("W"):
        return day == _nearest_weekday(day, int(field[:-1]))
    return day.day in _values(field, 1, 31)


def _nearest_weekday(day: dt.date, wanted: int) -> dt.date:
    """`nW`: the weekday nearest to day n of the month, never leaving the month."""
    last = calendar.monthrange(day.year, day.month)[1]
    target = day.replace(day=min(wanted, last))
    if target.weekday() == 5:  # Saturday -> Friday, unless that leaves the month
        return target - dt.timedelta(days=1) if target.day > 1 else target + dt.timedelta(days=2)
    if target.weekday() == 6:  # Sunday -> Monday, unless that leaves the month
        return target + dt.timedelta(days=1) if target.day < last else target - dt.timedelta(days=2)
    return target


def _day_of_week_matches(field: str, day: dt.date) -> bool:
    weekday = (day.weekday() + 1) % 7 + 1  # AWS: 1 = SUN ... 7 = SAT
    last = calendar.monthrange(day.year, day.month)[1]
    if "#" in field:
        wanted, nth = field.split("#", 1)
        return weekday == _value(wanted, _DAYS) and (day.day - 1) // 7 + 1 == int(nth)
    if field.endswith("L") and field != "L":
        return weekday == _value(field[:-1], _DAYS) and day.day + 7 > last
    if field == "L":
        return weekday == 7
    return weekday in _values(field, 1, 7, _DAYS)
