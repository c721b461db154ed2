"""A day's close as a job (R-ACC-5, R-ACC-7): the day item's stream record drives one step, and the
step's last commit moves the job to its next step, whose stream record drives the next one.

Phases: `count` the accounts (the job's `total`), `pay` them a page at a time, `expire` the transactions
that aged out a year ago, then `closed` (the next day opens, DayClosed is announced, and a scheduled close
goes on with the next day if it is behind).

Paying a page: each account's end-of-day balance is read with the account (consistent Query); a positive
one gets a payout transaction that brings that day's balance to zero. Ten accounts commit per transaction,
with their ledger entries, ONE outbox item for their TransactionRecorded events, ONE mail item for their
emails (the mailer sends it as one bulk SES call), the day's tally, and a check that the job is still at
this step. Exactly once per popug per day: every account write is conditional on the revision read, and a
payout also sets the account's `paid_through` to the day, so a retried step, a crashed step run again,
or two runs at once find the account paid and skip it; the tally only counts what committed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from botocore.exceptions import ClientError

from accounting import domain, events, store
from accounting.domain import Calendar, DayClose, Transaction
from accounting.settings import get as settings
from accounting.store import Versioned
from shared import clock, dynamo
from shared.events import stream_jobs
from shared.observability import logger, tracer

PAYOUTS_PER_TRANSACTION = 10  # 2 actions each, + mail + outbox + tally + job = 24 of 25
EXPIRY_ACTIONS = dynamo.MAX_TRANSACTION_ACTIONS - 1  # beside the job check
EXPIRY_PAGE = 1000
MAX_ATTEMPTS = 6


class Stale(Exception):
    """The job moved on while this run worked (another run of the step won): stop, count nothing."""


@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return stream_jobs.drive(event, _closing_day, run_step)


def _closing_day(item: dict[str, Any]) -> tuple[str, int, DayClose] | None:
    if item.get("sk") != "DAY" or not item.get("pk", "").startswith("DAY#"):
        return None
    job = store.close_from_image(item)
    return (job.business_day, job.step, job) if job.status == "closing" else None


def run_step(seen: DayClose, chunk: int | None = None) -> str:
    """One step of the close as the stream record `seen` shows it; returns what happened (logs, tests)."""
    job = store.get_close(seen.business_day)
    if job is None or job.status != "closing" or job.step != seen.step:
        logger.info("stale close record ignored", business_day=seen.business_day, step=seen.step)
        return "stale"
    logger.append_keys(business_day=job.business_day, step=job.step, phase=job.phase)
    try:
        if job.phase == "count":
            _advance([store.step_action(job, _now(), total=store.count_accounts(), phase="pay")])
            return "counted"
        if job.phase == "pay":
            return _pay(job, chunk or settings().close_chunk_accounts)
        if job.phase == "expire":
            return _expire(job)
        return _finish(job)
    except Stale:
        logger.info("the close moved on meanwhile; this run stops")
        return "stale"


# --- pay ---------------------------------------------------------------------------------------------


def _pay(job: DayClose, chunk: int) -> str:
    day = date.fromisoformat(job.business_day)
    calendar = Calendar(first_day=day, next_open=day, closing=day)  # while closing, as the store holds it
    page, next_cursor = store.accounts_page(job.cursor, chunk)
    payouts, in_red = _plan(page, day, calendar)
    day_txs = _day_transactions(job.business_day, [read for read, _, _ in payouts])
    groups = [payouts[i : i + PAYOUTS_PER_TRANSACTION] for i in range(0, len(payouts), PAYOUTS_PER_TRANSACTION)]
    groups = groups or [[]]
    for index, group in enumerate(groups):
        last = index == len(groups) - 1
        progress = None
        if last:
            progress = {"cursor": next_cursor, **({} if next_cursor else {"phase": "expire"})}
        in_red += _commit_payouts(job, group, day, calendar, day_txs, progress, in_red if last else 0, len(page))
    logger.info("close step committed", accounts=len(page), paid=len(payouts), final=next_cursor is None)
    return "stepped" if next_cursor else "paid"


Payout = tuple[Versioned, domain.Account, Transaction]


def _plan(page: Iterable[Versioned], day: date, calendar: Calendar) -> tuple[list[Payout], int]:
    """domain.plan_close over the page (the preview adds up the same), each payout with the read it came from."""
    reads = {read.account.employee_id: read for read in page}
    plan = domain.plan_close((read.account for read in reads.values()), day, calendar, _now())
    return [(reads[before.employee_id], after, tx) for before, after, tx in plan.payouts], plan.in_red


def _day_transactions(day: str, paid: list[Versioned]) -> dict[str, list[Transaction]]:
    """The day's transactions of the accounts paid in this step, for their emails (one ranged Query:
    a page of accounts is a contiguous range of ids)."""
    by_account: dict[str, list[Transaction]] = defaultdict(list)
    if paid:
        ids = sorted(read.account.employee_id for read in paid)
        for tx in store.day_transactions(day, ids[0], ids[-1]):
            by_account[tx.employee_id].append(tx)
    return by_account


def _commit_payouts(
    job: DayClose,
    group: list[Payout],
    day: date,
    calendar: Calendar,
    day_txs: dict[str, list[Transaction]],
    progress: dict[str, Any] | None,
    in_red: int,
    visited: int,
) -> int:
    """Commit one group of payouts (and, for the step's last group, the job's progress); accounts that
    changed meanwhile are read again and re-planned. Returns how many of the group turned out in the red."""
    pending, extra_red = list(group), 0
    for attempt in range(MAX_ATTEMPTS):
        actions: list[dict[str, Any]] = []
        for read, after, _ in pending:
            actions.append(store.account_action(read, after))
        for _, _, tx in pending:
            actions += store.transaction_actions(tx)
        paid_count = len(pending)
        if pending:
            actions.append(store.outbox_action([events.recorded(tx, job.correlation_id) for _, _, tx in pending]))
        mails = _destinations(pending, day_txs)
        if mails:
            actions.append(store.mail_action(job.business_day, mails, clock.epoch_seconds()))
        tally = {"popugs_paid": paid_count, "total_paid": sum(-tx.amount for _, _, tx in pending),
                 "emails_queued": len(mails)}  # fmt: skip
        if progress is not None:
            tally.update(popugs_in_red=in_red + extra_red, done=visited)
            job_action = store.step_action(job, _now(), **progress)
        else:
            job_action = store.still_at_step(job)
        if any(tally.values()):
            actions.append(store.tally_action(job.business_day, **tally))
        actions.append(job_action)
        try:
            dynamo.transact(actions)
            return extra_red
        except ClientError as error:
            codes = dynamo.cancellation_codes(error)
            if not codes:
                raise
        if codes[-1] == "ConditionalCheckFailed":
            raise Stale()
        failed = {pending[i][0].account.employee_id for i, code in enumerate(codes[: len(pending)]) if code != "None"}
        if "TransactionConflict" in codes:
            time.sleep(0.02 * 2**attempt)
        if failed:
            fresh = store.accounts_by_ids(failed)
            kept = [p for p in pending if p[0].account.employee_id not in failed]
            again, red = _plan([fresh[e] for e in sorted(failed)], day, calendar)
            pending, extra_red = kept + again, extra_red + red
    raise RuntimeError(f"a payout batch was cancelled {MAX_ATTEMPTS} times; the stream retries the step")


def _destinations(pending: list[Payout], day_txs: dict[str, list[Transaction]]) -> list[dict[str, Any]]:
    """Each paid popug's email: their address and the template data (amount, the day's transactions)."""
    paid = [(after, tx) for _, after, tx in pending if after.email]
    if not paid:
        return []
    titles_missing = {t.task_id for after, _ in paid for t in day_txs.get(after.employee_id, []) if not t.title}
    tasks = store.tasks_by_ids(t for t in titles_missing if t)
    return [
        {"to": after.email, "data": domain.payout_email(after, tx, day_txs.get(after.employee_id, []), tasks)}
        for after, tx in paid
    ]


# --- expire (R-ACC-7) --------------------------------------------------------------------------------


def _expire(job: DayClose) -> str:
    """One page of the oldest retained day's transactions, if that day is a year old: each account's
    aged transactions go and their sum joins its opening amount, in one write."""
    cutoff = domain.retention_cutoff(date.fromisoformat(job.business_day))
    oldest = store.retained_from()
    if oldest > cutoff:
        _advance([store.step_action(job, _now(), phase="finish", cursor=None)])
        return "expired"
    page, next_cursor = store.day_transactions_page(oldest.isoformat(), job.cursor, EXPIRY_PAGE)
    by_account: dict[str, list[Transaction]] = defaultdict(list)
    for tx in page:
        by_account[tx.employee_id].append(tx)
    batches = _expiry_batches(by_account)
    for batch in batches:
        _commit_expiry(job, batch)
    progress: list[dict[str, Any]] = [store.step_action(job, _now(), cursor=next_cursor)]
    if next_cursor is None:  # this day is done: the next oldest is retained from now on
        progress.append(store.retained_action(job.business_day, (oldest + timedelta(days=1)).isoformat()))
    _advance(progress)
    logger.info("expired transactions", day=oldest.isoformat(), transactions=len(page))
    return "expiring"


def _expiry_batches(by_account: dict[str, list[Transaction]]) -> list[list[tuple[str, list[Transaction]]]]:
    """Accounts' aged transactions packed into transactions: each account's deletes and its opening update
    travel together (split across transactions only if one account has more than fit in one)."""
    batches: list[list[tuple[str, list[Transaction]]]] = [[]]
    used = 0
    for employee_id, txs in sorted(by_account.items()):
        for start in range(0, len(txs), EXPIRY_ACTIONS - 1):
            part = txs[start : start + EXPIRY_ACTIONS - 1]
            if used + len(part) + 1 > EXPIRY_ACTIONS:
                batches.append([])
                used = 0
            batches[-1].append((employee_id, part))
            used += len(part) + 1
    return [b for b in batches if b]


def _commit_expiry(job: DayClose, batch: list[tuple[str, list[Transaction]]]) -> None:
    """A delete that finds its transaction gone (an earlier run of this step took it) drops it from the
    batch, so its amount is never moved into the opening amount twice."""
    for attempt in range(MAX_ATTEMPTS):
        actions = [a for employee_id, txs in batch if txs for a in store.expire_actions(employee_id, txs)]
        if not actions:
            return
        try:
            dynamo.transact([*actions, store.still_at_step(job)])
            return
        except ClientError as error:
            codes = dynamo.cancellation_codes(error)
            if not codes:
                raise
        if codes[-1] == "ConditionalCheckFailed":
            raise Stale()
        if "TransactionConflict" in codes:
            time.sleep(0.02 * 2**attempt)
        present = store.transactions_exist((tx.employee_id, tx.seq) for _, txs in batch for tx in txs)
        batch = [(e, [tx for tx in txs if (tx.employee_id, tx.seq) in present]) for e, txs in batch]
    raise RuntimeError(f"an expiry batch was cancelled {MAX_ATTEMPTS} times; the stream retries the step")


# --- finish ------------------------------------------------------------------------------------------


def _finish(job: DayClose) -> str:
    """Close the day: the next one opens, DayClosed goes out, and a scheduled close that is behind goes on
    with the next day. The tally read with the job is complete: every earlier step committed. The day's figures
    are final (nothing was booked to it since its close started): the close keeps them (store.FIGURES)."""
    now = _now()
    next_day = (date.fromisoformat(job.business_day) + timedelta(days=1)).isoformat()
    chain = job.close_through is not None and next_day <= job.close_through
    figures = store.day_stats(job.business_day) | {name: getattr(job, name) for name in store.TALLY_FIGURES}
    actions = [
        store.step_action(job, now, status="closed", phase="closed", finished_at=now, **figures),
        store.finish_calendar_action(job.business_day, next_day, chain=chain),
        store.outbox_action([events.day_closed(job, job.correlation_id)]),
    ]
    if chain:
        actions.append(store.next_close_action(DayClose(
            business_day=next_day, status="closing", started_at=now, started_by=job.started_by, updated_at=now,
            close_through=job.close_through, correlation_id=job.correlation_id,
        )))  # fmt: skip
    _advance(actions)
    logger.info("day closed", popugs_paid=job.popugs_paid, total_paid=job.total_paid, in_red=job.popugs_in_red)
    return "closed"


def _advance(actions: list[dict[str, Any]]) -> None:
    """Commit a step's progress (its first action moves the job); if the job is no longer at the step this
    run read, another run got there first."""
    try:
        dynamo.transact(actions)
    except ClientError as error:
        if dynamo.cancellation_codes(error)[:1] == ["ConditionalCheckFailed"]:
            raise Stale() from None
        raise


def _now() -> str:
    return clock.iso(clock.now())
