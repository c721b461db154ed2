"""The dashboards' questions (R-AN-3), each written once in Athena SQL over the logical tables
`transactions`, `tasks` and `closed_days`; the query layer runs it on Athena in AWS and on DuckDB
locally (R-AN-4). Dates go into the SQL only as `DATE 'YYYY-MM-DD'` literals made from `date` objects
that `domain` has already validated, never from request text.

Delivery into the lake is at least once, but the logical tables hold each row once (tables.union_sql),
so these queries sum rows as they are. Over a year (bench/analytics_queries.py) the costly steps were a
DISTINCT and a window over a year of transactions: the dashboard and the daily trends now read the daily
aggregates (`daily_totals`, `account_days`, compacted with each day), the most expensive task a month
of transactions.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from analytics import domain, lake, query
from analytics.settings import get as settings

RANGE_ROWS = domain.MAX_RANGE_DAYS + 1


def literal(day: date) -> str:
    """A date as an SQL literal; only ever from a `date`, so nothing but digits and dashes gets in."""
    if not isinstance(day, date):
        raise TypeError(f"expected a date, got {type(day).__name__}")
    return f"DATE '{day.isoformat()}'"


def midnight(day: date) -> str:
    """The start of a day (UTC) as an SQL timestamp literal; only ever from a `date`, like `literal`."""
    literal(day)  # the same check: a `date` or a TypeError
    return f"TIMESTAMP '{day.isoformat()} 00:00:00'"


# --- the SQL ----------------------------------------------------------------------------------------------


def dashboard_sql(day: date, month_end: date | None = None) -> str:
    """One row: the day's management earnings (R-ACC-6: minus its fee and reward transactions), the
    popugs whose latest balance up to that day is below zero (latest by recorded_at, ties by
    transaction_id), and the day's close if there is one (its `popugs_in_red` is the final word).
    Read from the daily aggregates: each account's last moment over its days, then at that moment the
    highest transaction id (a window sorting a year of transactions took twenty times as long); from
    `month_end` on when given (a month end before `day` with `account_balances`): each account's balance
    then, and the days after it only (a year of days took most of the query on a year-old lake)."""
    d = literal(day)
    columns = "account_id, balance_after, last_recorded_at, last_transaction_id"
    upto = f"SELECT {columns} FROM account_days WHERE business_day <= {d}"  # noqa: S608 (a `literal` date)
    if month_end is not None:
        since = literal(month_end)
        balances = f"SELECT {columns} FROM account_balances WHERE as_of = {since}"  # noqa: S608 (`literal` dates)
        upto = f"{balances} UNION ALL {upto} AND business_day > {since}"
    return f"""
WITH day_totals AS (
  SELECT coalesce(-sum(amount), 0) AS management_earnings
  FROM daily_totals
  WHERE business_day = {d} AND kind IN ('fee', 'reward')
),
upto AS (
  {upto}
),
last_moments AS (
  SELECT account_id, max(last_recorded_at) AS last_recorded_at
  FROM upto
  GROUP BY account_id
),
balances AS (
  SELECT u.account_id, max_by(u.balance_after, u.last_transaction_id) AS balance_after
  FROM upto AS u
  JOIN last_moments AS m ON m.account_id = u.account_id AND m.last_recorded_at = u.last_recorded_at
  GROUP BY u.account_id
),
closes AS (
  SELECT count(*) AS closes, max(popugs_in_red) AS popugs_in_red
  FROM closed_days
  WHERE business_day = {d}
)
SELECT
  (SELECT management_earnings FROM day_totals) AS management_earnings,
  (SELECT count(*) FROM balances WHERE balance_after < 0) AS open_in_red,
  closes.closes AS closed,
  closes.popugs_in_red AS closed_in_red
FROM closes
""".strip()  # noqa: S608 (only `literal` dates are interpolated)


def most_expensive_sql(first: date, last: date) -> str:
    """Per day of first..last with a completion (a `reward` transaction, on its business day): the
    completion with the highest reward, ties to the earliest (recorded_at, then transaction_id), with
    the task's title and jira id when the lake knows the task; `is_top` marks the period's winner.
    A task is created before it is completed, so its creation is looked up no later than the period's
    end (with two days to spare for a business day in another timezone than UTC): the task partitions
    after the period are not read (the month in the middle of a year reads half the year's, not all)."""
    created_by = midnight(last + timedelta(days=2))
    return f"""
WITH completions AS (
  SELECT transaction_id, task_id, amount, business_day, recorded_at
  FROM transactions
  WHERE kind = 'reward' AND business_day BETWEEN {literal(first)} AND {literal(last)}
),
ranked AS (
  SELECT task_id, amount, business_day,
         row_number() OVER (PARTITION BY business_day ORDER BY amount DESC, recorded_at ASC, transaction_id ASC)
           AS day_place,
         row_number() OVER (ORDER BY amount DESC, recorded_at ASC, transaction_id ASC) AS period_place
  FROM completions
),
winners AS (
  SELECT task_id, amount, business_day, period_place FROM ranked WHERE day_place = 1
),
known_tasks AS (
  SELECT task_id, max_by(title, created_at) AS title, max_by(jira_id, created_at) AS jira_id
  FROM tasks
  WHERE task_id IN (SELECT task_id FROM winners) AND created_at < {created_by}
  GROUP BY task_id
)
SELECT r.business_day, r.task_id, t.title, t.jira_id, r.amount AS reward,
       CASE WHEN r.period_place = 1 THEN 1 ELSE 0 END AS is_top
FROM winners AS r
LEFT JOIN known_tasks AS t ON t.task_id = r.task_id
ORDER BY r.business_day
""".strip()  # noqa: S608 (only `literal` dates are interpolated)


def daily_sql(first: date, last: date) -> str:
    """Per day of first..last that has transactions or a close: fees and payouts (positive), rewards,
    completions, and the close's popugs paid and in the red. Days with neither are filled in by
    `domain.daily`."""
    between = f"business_day BETWEEN {literal(first)} AND {literal(last)}"
    return f"""
WITH sums AS (
  SELECT business_day,
         sum(CASE WHEN kind = 'fee' THEN -amount ELSE 0 END) AS fees,
         sum(CASE WHEN kind = 'reward' THEN amount ELSE 0 END) AS rewards,
         sum(CASE WHEN kind = 'payout' THEN -amount ELSE 0 END) AS payouts,
         sum(CASE WHEN kind = 'reward' THEN transactions ELSE 0 END) AS tasks_completed
  FROM daily_totals
  WHERE {between}
  GROUP BY business_day
),
closes AS (
  SELECT business_day, max(popugs_paid) AS popugs_paid, max(popugs_in_red) AS popugs_in_red
  FROM closed_days
  WHERE {between}
  GROUP BY business_day
)
SELECT coalesce(s.business_day, c.business_day) AS business_day,
       s.fees, s.rewards, s.payouts, s.tasks_completed,
       CASE WHEN c.business_day IS NULL THEN 0 ELSE 1 END AS closed,
       c.popugs_paid, c.popugs_in_red
FROM sums AS s
FULL OUTER JOIN closes AS c ON c.business_day = s.business_day
ORDER BY 1
""".strip()  # noqa: S608 (only `literal` dates are interpolated)


# --- running them ---------------------------------------------------------------------------------------


def _rows(sql: str, max_rows: int, state: lake.State | None = None) -> list[dict[str, Any]]:
    result = query.run(sql, max_rows=max_rows, timeout_seconds=settings().query_timeout_seconds, state=state)
    return domain.named(result.columns, result.rows)


def dashboard(day: date) -> domain.Dashboard:
    state = lake.read_state(settings().lake_bucket)
    rows = _rows(dashboard_sql(day, lake.month_end_before(day, state.month_ends_through)), 1, state)
    return domain.dashboard(day, rows[0] if rows else None)


def most_expensive(period: domain.Period, day: date) -> dict[str, Any]:
    first, last = domain.period_bounds(period, day)
    return domain.most_expensive(period, first, last, _rows(most_expensive_sql(first, last), RANGE_ROWS))


def daily(first: date, last: date) -> list[domain.DailyTrend]:
    return domain.daily(first, last, _rows(daily_sql(first, last), RANGE_ROWS))
