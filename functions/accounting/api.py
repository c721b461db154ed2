"""Accounting HTTP API (R-ACC-5, R-ACC-6): a popug's own balance and ledger; for admins and accountants
every account, any account's ledger, per-day statistics and the state of a day's close; for admins, closing
a day (a job: 202, then its progress at GET /accounting/days/{date}).

403 is only ever "a role is missing": a worker asking for someone else's ledger.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import Field

from accounting import closing, domain, preview, store
from accounting.domain import CLOSE_ROLES, VIEW_ALL_ROLES, Account, DayClose, DayStats, Kind, Transaction
from shared import clock, csv_export, pagination
from shared.errors import Forbidden
from shared.http import (
    CSV_EXTENSION,
    Format,
    PathId,
    ResponseModel,
    answer,
    caller,
    csv_too,
    errors,
    make_resolver,
    only,
)
from shared.observability import logger, tracer
from shared.responses import Page

app = make_resolver()

Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=2048)]
# Checked strictly by domain.parse_day, with a message that names the parameter.
Day = Annotated[str, Path(max_length=32)]
DayStatus = Literal["open", "closing", "closed"]
Cents = Annotated[int, Field(description="integer cents")]


class ListedAccountView(ResponseModel):
    employee_id: str
    name: str | None
    email: str | None
    balance: Cents
    dismissed: bool


class AccountView(ListedAccountView):
    opening_amount: Cents = Field(description="the sum of the transactions that aged out of the ledger")


class TransactionTask(ResponseModel):
    task_id: str
    jira_id: str | None
    title: str | None


class TransactionView(ResponseModel):
    transaction_id: str
    kind: Kind
    amount: Cents
    balance_after: Cents
    task_id: str | None
    task: TransactionTask | None
    reason: str
    business_day: str
    recorded_at: str


class Totals(ResponseModel):
    management_earnings: Cents
    fees: Cents
    rewards: Cents
    payouts: Cents
    popugs_paid: int


class DayStatsView(Totals):
    date: str
    status: DayStatus
    popugs_in_red: int | None = Field(description="known once the day is closed")


class StatsView(ResponseModel):
    from_: str = Field(alias="from")
    to: str
    items: list[DayStatsView]
    totals: Totals


class DayCloseView(ResponseModel):
    business_day: str
    status: DayStatus
    total: int | None = Field(description="the accounts to pay; null until the close has counted them")
    done: int
    popugs_paid: int
    total_paid: Cents
    popugs_in_red: int | None = Field(description="known once the day's close has run")
    emails_queued: int
    emails_sent: int
    started_at: str | None
    finished_at: str | None
    next_open_day: str | None = None


class RefusalView(ResponseModel):
    code: str = Field(description="`future_day`, `before_first_day`, `previous_day_open`, `already_closed`, `closing`")
    message: str = Field(description="why, and what to do, for people")


class ClosePreviewView(ResponseModel):
    business_day: str
    status: DayStatus
    today: str = Field(description="today in the business timezone: days close up to it")
    next_open_day: str = Field(description="the first day not closed yet: the only one a close can start on")
    closable: bool = Field(description="whether POST /accounting/days/{day}/close would start a close now")
    refusal: RefusalView | None = Field(description="why the day cannot be closed now; null when it can")
    as_of: str = Field(description="the moment the figures were computed: money moving after it changes them")
    accounts: int | None = Field(description="the accounts the close would visit; null when it cannot close")
    popugs_to_pay: int | None
    total_to_pay: Cents | None
    popugs_in_red: int | None = Field(description="popugs whose balance would stay below zero (carried over)")


def _ledger(employee_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    transactions, next_cursor = store.ledger(employee_id, limit, cursor)
    return {"items": _public(transactions), "next_cursor": next_cursor}


def _public(transactions: list[Transaction]) -> list[dict[str, Any]]:
    """Transactions booked before their task's TaskCreated arrived learn its title here."""
    missing = {t.task_id for t in transactions if t.task_id and not t.title}
    tasks = store.tasks_by_ids(missing) if missing else {}
    return [t.public(tasks.get(t.task_id or "")) for t in transactions]


# --- my money ------------------------------------------------------------------------------------------


@app.get("/accounting/me")
def my_account() -> AccountView:
    who = caller(app)
    return store.get_account(who.employee_id).account.public()


@app.get("/accounting/me/transactions", openapi_extensions={CSV_EXTENSION: True})
def my_transactions(
    limit: Limit = pagination.DEFAULT_LIMIT, cursor: Cursor = None, format: Format = None
) -> Page[TransactionView]:
    """A popug's own ledger; `?format=csv` downloads it too (R-UI-5: every ledger downloads as CSV)."""
    return _ledger(caller(app).employee_id, limit, cursor)


# --- everyone's money (admins, accountants) -------------------------------------------------------------


@app.get("/accounting/accounts", **csv_too(only(*VIEW_ALL_ROLES)))
def list_accounts(
    limit: Limit = pagination.DEFAULT_LIMIT,
    cursor: Cursor = None,
    format: Format = None,
    q: Annotated[str | None, Query(max_length=1000, description="the start of a name, any case")] = None,
    sort: Annotated[str | None, Query(max_length=100, description="`name` (default) or `balance`")] = None,
    order: Annotated[str | None, Query(max_length=100, description="`asc` or `desc`")] = None,
) -> Page[ListedAccountView]:
    """R-UI-5: `q` searches, `sort` and `order` sort; checked by `domain.account_order`, whose 422s say what
    to send instead. The CSV download (`?format=csv`) takes the same parameters."""
    accounts, next_cursor = store.list_accounts(limit, cursor, domain.account_order(sort, order, q))
    return {"items": [_listed(a) for a in accounts], "next_cursor": next_cursor}


def _listed(account: Account) -> dict[str, Any]:
    data = account.public()
    data.pop("opening_amount")
    return data


@app.get(
    "/accounting/accounts/<employee_id>/transactions",
    responses=errors((403, "a worker asking for another popug's ledger (`forbidden`)")),
    openapi_extensions={CSV_EXTENSION: True},
)
def account_transactions(
    employee_id: PathId, limit: Limit = pagination.DEFAULT_LIMIT, cursor: Cursor = None, format: Format = None
) -> Page[TransactionView]:
    who = caller(app)
    employee_id = employee_id.lower()
    if employee_id != who.employee_id and not who.has_any(*VIEW_ALL_ROLES):
        raise Forbidden("workers see their own ledger; only admins and accountants see other popugs' ledgers")
    return _ledger(employee_id, limit, cursor)


@app.get("/accounting/stats", **csv_too(only(*VIEW_ALL_ROLES)))
def stats(
    from_: Annotated[str, Query(alias="from", max_length=32)],
    to: Annotated[str, Query(max_length=32)],
    format: Format = None,
) -> StatsView:
    first, last = domain.parse_range(from_, to)
    calendar = store.get_calendar()
    closes = store.day_figures(first, last)
    # A closed day's figures are on its close (one item); the shards are read for the other days only, so
    # 30 days of a year-old stack read what a fresh stack's 30 days read.
    sums = {day: {"fees": close.fees, "rewards": close.rewards} for day, close in closes.items()
            if close.status == "closed" and close.fees is not None and close.rewards is not None}  # fmt: skip
    rest = [day for day in domain.dates(first, last) if day.isoformat() not in sums]
    if rest:
        sums |= store.stats_of(rest)
    days = []
    for day in domain.dates(first, last):
        iso = day.isoformat()
        close = closes.get(iso)
        status = calendar.status(day) if calendar else "open"
        closed = status == "closed"
        days.append(
            DayStats(
                date=iso, status=status, fees=sums.get(iso, {}).get("fees", 0),
                rewards=sums.get(iso, {}).get("rewards", 0), payouts=close.total_paid if close else 0,
                popugs_paid=close.popugs_paid if close else 0,
                popugs_in_red=(close.popugs_in_red if close else 0) if closed else None,
            )
        )  # fmt: skip
    return {"from": first.isoformat(), "to": last.isoformat(), "items": [d.public() for d in days],
            "totals": domain.totals(days)}  # fmt: skip


# --- closing a day ------------------------------------------------------------------------------------


@app.post(
    "/accounting/days/<day>/close",
    **only(*CLOSE_ROLES),
    status_code=202,
    response_description="the close started (or the day as it stands); GET /accounting/days/{day} follows it",
    responses=errors(
        (409, "the day has not ended (`future_day`), is before aTES (`before_first_day`), or an earlier day is "
              "open (`previous_day_open`, with `next_open_day`)")
    ),
)  # fmt: skip
def close_day(day: Day) -> Response[DayCloseView]:
    who = caller(app)
    business_day = domain.parse_day(day)
    request_id = app.current_event.request_context.request_id
    job = closing.request_close(business_day, who.employee_id, clock.now(), correlation_id=request_id)
    logger.info("close requested", business_day=job.business_day, status=job.status)
    return answer(202, _day(job))


@app.get("/accounting/days/<day>", **only(*VIEW_ALL_ROLES))
def get_day(day: Day) -> DayCloseView:
    business_day = domain.parse_day(day)
    job = store.get_close(business_day.isoformat())
    if job is None:
        calendar = store.get_calendar()
        status = calendar.status(business_day) if calendar else "open"
        job = DayClose(business_day=business_day.isoformat(), status=status)
    return _day(job)


@app.get("/accounting/days/<day>/preview", **only(*VIEW_ALL_ROLES))
def preview_close(day: Day) -> ClosePreviewView:
    """What closing the day would do now, computed as the close computes it, without doing it (R-UI-6)."""
    return preview.preview(domain.parse_day(day), clock.now()).public()


def _day(job: DayClose) -> dict[str, Any]:
    return job.public(store.get_calendar())


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # ?format=csv (SPEC §11, R-UI-5): the lists and the day statistics as CSV, made from the checked JSON
    stem = "-".join(p for p in (event.get("path") or "").split("/") if p and p != "api")
    return csv_export.response(event, app.resolve(event, context), stem or "accounting")
