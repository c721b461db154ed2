"""Saved metrics (R-AN-6): a named console query with date parameters and a chart, kept for the Board.

Pure rules, no I/O: what a metric is, how its parameters go into its SQL, and the examples a fresh stack
starts with. A metric's SQL names a parameter as `:from`, `:to` (any `:name` it declares); at run time
each becomes a `DATE 'YYYY-MM-DD'` literal made from a validated `date`, then the whole query passes the
console's guard (`console.guard`), so a metric can do nothing the console cannot. The guard runs when a
metric is saved too (with today's date for every parameter), so bad SQL, DDL or a foreign table is
refused before it is kept.

A parameter's default is an ISO date or `today`, `today-N` (N days before the run's day), so a metric
shows "the last twelve weeks" whenever the Board opens it.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from analytics import console, domain
from shared.errors import Unprocessable

NAME = r"^[a-z][a-z0-9_]{0,31}$"
RELATIVE = re.compile(r"^today(?:-([0-9]{1,3}))?$")
MAX_PARAMETERS = 8
ChartType = Literal["line", "bar", "table"]


class Parameter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME, description="named in the SQL as `:name`")
    type: Literal["date"] = "date"
    default: str | None = Field(
        default=None, max_length=32, description="an ISO date, `today` or `today-N` (N days before today)"
    )

    @field_validator("default")
    @classmethod
    def _default(cls, value: str | None) -> str | None:
        if value is not None and not RELATIVE.match(value):
            domain.parse_day(value, "default")
        return value


class Chart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: ChartType = "table"
    x: str | None = Field(default=None, min_length=1, max_length=128, description="the column along the x axis")
    y: list[str] = Field(default_factory=list, max_length=6, description="the columns drawn against x")

    @model_validator(mode="after")
    def _axes(self) -> Chart:
        if self.type != "table" and (not self.x or not self.y):
            raise ValueError(f"a {self.type} chart needs x (a column) and y (one or more columns)")
        return self


class MetricInput(BaseModel):
    """What an admin saves (POST, and PUT replacing the whole metric)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    sql: str = Field(min_length=1, max_length=console.MAX_SQL_CHARS)
    parameters: list[Parameter] = Field(default_factory=list, max_length=MAX_PARAMETERS)
    chart: Chart = Field(default_factory=Chart)
    description: str = Field(default="", max_length=1000)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a metric needs a name")
        return value.strip()

    @model_validator(mode="after")
    def _unique(self) -> MetricInput:
        names = [p.name for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("each parameter has its own name")
        return self


# --- parameters into SQL -------------------------------------------------------------------------------


def placeholders(sql: str) -> list[tuple[int, int, str]]:
    """Each `:name` of the SQL as (start, end, name), found by the tokenizer, so a `:x` inside a string
    literal or a comment is text, not a parameter."""
    from sqlglot.dialects import Dialect
    from sqlglot.errors import SqlglotError
    from sqlglot.tokens import TokenType

    try:
        tokens = Dialect.get_or_raise("athena").tokenize(sql)
    except SqlglotError as error:
        raise console.refuse(f"it is not SQL this console can read ({str(error).splitlines()[0][:200]})") from None
    found = []
    for colon, word in itertools.pairwise(tokens):
        if colon.token_type == TokenType.COLON and word.start == colon.end + 1 and re.fullmatch(r"\w+", word.text):
            found.append((colon.start, word.end + 1, word.text.lower()))
    return found


def bind(sql: str, values: dict[str, date]) -> str:
    """The SQL with each `:name` replaced by its date literal; a name without a value is a 422."""
    parts, last = [], 0
    for start, end, name in placeholders(sql):
        if name not in values:
            raise Unprocessable(
                f"the SQL uses :{name}, which is not one of this metric's parameters "
                f"({', '.join(':' + n for n in values) or 'it has none'}); declare it or remove it",
                code="unknown_parameter",
            )
        parts += [sql[last:start], f"DATE '{values[name].isoformat()}'"]
        last = end
    return "".join([*parts, sql[last:]])


def resolve(parameters: list[Parameter], given: dict[str, str | None], today: date) -> dict[str, date]:
    """Each parameter's date for one run: the value given, else its default, else a 422 naming it. When
    the metric has both `from` and `to`, they form a range of at most 366 days (as the dashboards')."""
    values: dict[str, date] = {}
    unknown = sorted(set(given) - {p.name for p in parameters})
    if unknown:
        raise Unprocessable(f"this metric has no parameter {', '.join(unknown)}", code="unknown_parameter")
    for parameter in parameters:
        text = given.get(parameter.name) or parameter.default
        if text is None:
            raise Unprocessable(f"{parameter.name}: give a date like 2026-11-27", code="missing_parameter")
        values[parameter.name] = relative_day(text, today, parameter.name)
    if "from" in values and "to" in values:
        domain.parse_range(values["from"].isoformat(), values["to"].isoformat())
    return values


def relative_day(text: str, today: date, name: str) -> date:
    match = RELATIVE.match(text)
    if match:
        return today - timedelta(days=int(match[1] or 0))
    return domain.parse_day(text, name)


def guarded(metric: MetricInput, values: dict[str, date], max_rows: int) -> console.Guarded:
    """The metric's SQL with these values, through the console's guard (422 `query_refused` if not)."""
    return console.guard(bind(metric.sql, values), max_rows)


def check(metric: MetricInput, today: date, max_rows: int) -> None:
    """Refuse, before saving, a metric whose SQL the console would refuse or that names an undeclared
    parameter: every parameter set to today."""
    guarded(metric, {p.name: today for p in metric.parameters}, max_rows)


# --- the examples a fresh stack starts with ----------------------------------------------------------------

RANGE = [Parameter(name="from", default="today-83"), Parameter(name="to", default="today")]

EXAMPLES: tuple[MetricInput, ...] = (
    MetricInput(
        name="Earnings by department per week",
        description="Management earnings (minus fees and rewards) of each department's popugs, by ISO week; "
        "a popug counts for the department it was in when the money moved.",
        sql="""SELECT date_trunc('week', t.business_day) AS week,
       coalesce(d.name, 'no department') AS department,
       -sum(t.amount) AS management_earnings
FROM transactions t
LEFT JOIN employee_history e
  ON e.employee_id = t.account_id AND t.recorded_at >= e.valid_from
 AND (e.valid_to IS NULL OR t.recorded_at < e.valid_to)
LEFT JOIN department_history d
  ON d.department_id = e.department_id AND t.recorded_at >= d.valid_from
 AND (d.valid_to IS NULL OR t.recorded_at < d.valid_to)
WHERE t.kind IN ('fee', 'reward') AND t.business_day BETWEEN :from AND :to
GROUP BY 1, 2
ORDER BY 1, 2""",
        parameters=RANGE,
        chart=Chart(type="bar", x="week", y=["management_earnings"]),
    ),
    MetricInput(
        name="Average reward by position",
        description="The average reward of completed tasks, by the position the popug held when completing it.",
        sql="""SELECT coalesce(e.position, 'unknown') AS position,
       count(*) AS completions,
       avg(t.amount) AS average_reward
FROM transactions t
LEFT JOIN employee_history e
  ON e.employee_id = t.account_id AND t.recorded_at >= e.valid_from
 AND (e.valid_to IS NULL OR t.recorded_at < e.valid_to)
WHERE t.kind = 'reward' AND t.business_day BETWEEN :from AND :to
GROUP BY 1
ORDER BY 3 DESC""",
        parameters=RANGE,
        chart=Chart(type="bar", x="position", y=["average_reward"]),
    ),
    MetricInput(
        name="Share of tasks shuffled more than once",
        description="Per day, the share of tasks charged an assignment fee more than twice (created, then "
        "reassigned by two or more shuffles).",
        sql="""WITH fees AS (
  SELECT task_id, min(business_day) AS first_day, count(*) AS assignments
  FROM transactions
  WHERE kind = 'fee' AND business_day BETWEEN :from AND :to
  GROUP BY task_id
)
SELECT first_day AS business_day,
       count(*) AS tasks,
       round(100.0 * count_if(assignments > 2) / count(*), 1) AS percent_shuffled_twice_or_more
FROM fees
GROUP BY first_day
ORDER BY first_day""",
        parameters=RANGE,
        chart=Chart(type="line", x="business_day", y=["percent_shuffled_twice_or_more"]),
    ),
)
