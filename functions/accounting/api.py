"""Accounting HTTP API (R-ACC-5, R-ACC-6): a popug's own balance and ledger; for admins and accountants
every account, any account's ledger, per-day statistics and the state of a day's close; for admins, closing
a day (a job: 202, then its progress at GET /accounting/days/{date}).

403 is only ever "a role is missing": a worker asking for someone else's ledger.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from accounting import closing, domain, store
from accounting.domain import CLOSE_ROLES, VIEW_ALL_ROLES, Account, DayClose, DayStats, Transaction
from shared import clock, pagination
from shared.errors import Forbidden
from shared.http import PathId, caller, make_resolver, only
from shared.observability import logger, tracer

app = make_resolver()

Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=2048)]
# Checked strictly by domain.parse_day, with a message that names the parameter.
Day = Annotated[str, Path(max_length=32)]


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
def my_account() -> dict[str, Any]:
    who = caller(app)
    return store.get_account(who.employee_id).account.public()


@app.get("/accounting/me/transactions")
def my_transactions(limit: Limit = pagination.DEFAULT_LIMIT, cursor: Cursor = None) -> dict[str, Any]:
    return _ledger(caller(app).employee_id, limit, cursor)


# --- everyone's money (admins, accountants) -------------------------------------------------------------


@app.get("/accounting/accounts", **only(*VIEW_ALL_ROLES))
def list_accounts(limit: Limit = pagination.DEFAULT_LIMIT, cursor: Cursor = None) -> dict[str, Any]:
    accounts, next_cursor = store.list_accounts(limit, cursor)
    return {"items": [_listed(a) for a in accounts], "next_cursor": next_cursor}


def _listed(account: Account) -> dict[str, Any]:
    data = account.public()
    data.pop("opening_amount")
    return data


@app.get("/accounting/accounts/<employee_id>/transactions")
def account_transactions(
    employee_id: PathId, limit: Limit = pagination.DEFAULT_LIMIT, cursor: Cursor = None
) -> dict[str, Any]:
    who = caller(app)
    employee_id = employee_id.lower()
    if employee_id != who.employee_id and not who.has_any(*VIEW_ALL_ROLES):
        raise Forbidden("workers see their own ledger; only admins and accountants see other popugs' ledgers")
    return _ledger(employee_id, limit, cursor)


@app.get("/accounting/stats", **only(*VIEW_ALL_ROLES))
def stats(
    from_: Annotated[str, Query(alias="from", max_length=32)], to: Annotated[str, Query(max_length=32)]
) -> dict[str, Any]:
    first, last = domain.parse_range(from_, to)
    calendar = store.get_calendar()
    sums = store.stats_between(first, last)
    closes = store.closes_between(first, last)
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


@app.post("/accounting/days/<day>/close", **only(*CLOSE_ROLES))
def close_day(day: Day) -> Response[dict[str, Any]]:
    who = caller(app)
    business_day = domain.parse_day(day)
    request_id = app.current_event.request_context.request_id
    job = closing.request_close(business_day, who.employee_id, clock.now(), correlation_id=request_id)
    logger.info("close requested", business_day=job.business_day, status=job.status)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=_day(job))


@app.get("/accounting/days/<day>", **only(*VIEW_ALL_ROLES))
def get_day(day: Day) -> dict[str, Any]:
    business_day = domain.parse_day(day)
    job = store.get_close(business_day.isoformat())
    if job is None:
        calendar = store.get_calendar()
        status = calendar.status(business_day) if calendar else "open"
        job = DayClose(business_day=business_day.isoformat(), status=status)
    return _day(job)


def _day(job: DayClose) -> dict[str, Any]:
    return job.public(store.get_calendar())


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
