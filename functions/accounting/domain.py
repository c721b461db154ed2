"""Pure accounting rules (SPEC §6): prices (R-ACC-1), the ledger and its balance (R-ACC-2..4), the
business day, the payout of a day's close (R-ACC-5), statistics (R-ACC-6) and retention (R-ACC-7).

No I/O here: the store reads, these functions decide, the store commits what they return. Money is
integer cents everywhere; a balance is `opening + sum(retained transactions)` by construction, because
the only way to change one is `record`, which appends the transaction that explains the change.
"""

from __future__ import annotations

import html
import random
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from shared import sorting
from shared.errors import Unprocessable
from shared.problems import bad_range, not_a_date

FEE_RANGE = (1000, 2000)  # R-ACC-1: cents, both inclusive
REWARD_RANGE = (2000, 4000)
MAX_RANGE_DAYS = 366  # SPEC §11: date ranges are at most 366 days
RETENTION_DAYS = 365  # R-ACC-7: transactions are kept one year
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Transaction ids derive from what caused them, so the same cause can never make a second transaction.
TRANSACTION_NAMESPACE = uuid.UUID("6f1c3a52-5d0e-4c47-9a55-5b7f0a3d2e11")
VIEW_ALL_ROLES = ("admin", "accountant")  # R-ACC-6
CLOSE_ROLES = ("admin",)

Kind = Literal["fee", "reward", "payout"]


# --- prices (R-ACC-1) --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    assign_fee: int
    reward: int


def price_task(rng: random.Random) -> Price:
    return Price(assign_fee=rng.randint(*FEE_RANGE), reward=rng.randint(*REWARD_RANGE))


@dataclass(frozen=True)
class TaskInfo:
    """What accounting knows of a task: its price once priced, its title once TaskCreated arrived."""

    task_id: str
    price: Price | None = None
    title: str | None = None
    jira_id: str | None = None
    rewarded: bool = False
    rev: int = 0  # the revision it was read at: the store's write is conditional on it
    # epoch seconds (the table's TTL attribute): kept while open, a year after its reward (SPEC §10)
    expires_at: int | None = None

    def label(self) -> str:
        if not self.title:
            return f"task {self.task_id}"
        return f"[{self.jira_id}] {self.title}" if self.jira_id else self.title


# --- days (R-ACC-2, R-ACC-5) -------------------------------------------------------------------------


def parse_day(value: str, name: str = "date") -> date:
    """A strict ISO date (2026-11-27) or a 422 naming the parameter."""
    if not ISO_DATE.match(value or ""):
        raise not_a_date(name, value)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise not_a_date(name, value, calendar=True) from None


def parse_range(start: str, end: str) -> tuple[date, date]:
    first, last = parse_day(start, "from"), parse_day(end, "to")
    if last < first:
        raise bad_range(first, last, MAX_RANGE_DAYS)
    days = (last - first).days + 1
    if days > MAX_RANGE_DAYS:
        raise bad_range(first, last, MAX_RANGE_DAYS)
    return first, last


def local_day(moment: datetime, timezone: str) -> date:
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Calendar:
    """Which days are closed: every day before `next_open`; `closing` is `next_open` while its close runs."""

    first_day: date
    next_open: date
    closing: date | None = None

    def business_day(self, today: date) -> date:
        """R-ACC-2: the first day not yet closed at or after today (a day being closed is closed to new
        transactions: they belong to the next one)."""
        day = max(today, self.next_open)
        return day + timedelta(days=1) if day == self.closing else day

    def status(self, day: date) -> str:
        if day < self.next_open:
            return "closed"
        return "closing" if day == self.closing else "open"


# --- accounts and their ledger (R-ACC-2..4) ----------------------------------------------------------


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    employee_id: str
    seq: int  # its place in the account's ledger: balance_after(seq) = balance_after(seq - 1) + amount
    kind: Kind
    amount: int
    balance_after: int
    reason: str
    business_day: str
    recorded_at: str
    task_id: str | None = None
    title: str | None = None
    jira_id: str | None = None

    def public(self, task: TaskInfo | None = None) -> dict:
        title = self.title or (task.title if task else None)
        jira_id = self.jira_id or (task.jira_id if task else None)
        return {
            "transaction_id": self.transaction_id, "kind": self.kind, "amount": self.amount,
            "balance_after": self.balance_after, "task_id": self.task_id,
            "task": {"task_id": self.task_id, "jira_id": jira_id, "title": title} if self.task_id else None,
            "reason": self.reason, "business_day": self.business_day, "recorded_at": self.recorded_at,
        }  # fmt: skip


@dataclass(frozen=True)
class Account:
    """A popug's balance. `day_delta` holds what each not-yet-closed business day changed, so a close
    pays the balance as it stood at the end of ITS day even while the next day's fees arrive."""

    employee_id: str
    balance: int = 0
    opening: int = 0  # the sum of transactions that aged out (R-ACC-7)
    seq: int = 0  # transactions ever recorded; the optimistic-concurrency token of every write
    day_delta: Mapping[str, int] = field(default_factory=dict)
    paid_through: str | None = None  # the last business day whose close has processed this account
    name: str | None = None
    email: str | None = None
    staff_version: int = 0
    dismissed: bool = False
    exists: bool = False  # read from the table (the write is then conditional on `seq`)

    def public(self) -> dict:
        return {
            "employee_id": self.employee_id, "name": self.name, "email": self.email, "balance": self.balance,
            "opening_amount": self.opening, "dismissed": self.dismissed,
        }  # fmt: skip

    def end_of_day(self, day: date) -> int:
        """The balance at the end of business day `day`: today's balance less what later days changed."""
        later = sum(delta for d, delta in self.day_delta.items() if d > day.isoformat())
        return self.balance - later


def transaction_id(cause: str) -> str:
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, cause))


def record(
    account: Account,
    *,
    kind: Kind,
    amount: int,
    reason: str,
    cause: str,
    business_day: date,
    calendar: Calendar,
    recorded_at: str,
    task: TaskInfo | None = None,
) -> tuple[Account, Transaction]:
    """Append one transaction; returns the account after it and the transaction."""
    day = business_day.isoformat()
    # Days already closed no longer matter to `end_of_day`: drop them so the map stays small.
    kept = {d: v for d, v in account.day_delta.items() if d >= calendar.next_open.isoformat()}
    kept[day] = kept.get(day, 0) + amount
    after = replace(account, balance=account.balance + amount, seq=account.seq + 1, day_delta=kept)
    tx = Transaction(
        transaction_id=transaction_id(cause), employee_id=account.employee_id, seq=after.seq, kind=kind,
        amount=amount, balance_after=after.balance, reason=reason, business_day=day, recorded_at=recorded_at,
        task_id=task.task_id if task else None, title=task.title if task else None,
        jira_id=task.jira_id if task else None,
    )  # fmt: skip
    return after, tx


def fee(account: Account, task: TaskInfo, why: str, event_id: str, **when) -> tuple[Account, Transaction]:
    """R-ACC-3: the assignee pays the task's fee, once per assignment (the assignment's event)."""
    assert task.price is not None
    reason = f"assigned {task.label()} ({'reassigned by a shuffle' if why == 'shuffle' else 'on creation'})"
    return record(account, kind="fee", amount=-task.price.assign_fee, reason=reason, cause=f"fee:{event_id}",
                  task=task, **when)  # fmt: skip


def reward(account: Account, task: TaskInfo, **when) -> tuple[Account, Transaction]:
    """R-ACC-4: the assignee who completed the task earns its reward, once per task."""
    assert task.price is not None
    return record(account, kind="reward", amount=task.price.reward, reason=f"completed {task.label()}",
                  cause=f"reward:{task.task_id}", task=task, **when)  # fmt: skip


def payout(account: Account, day: date, calendar: Calendar, recorded_at: str) -> tuple[Account, Transaction] | None:
    """R-ACC-5: a positive end-of-day balance is paid out (brought to zero for that day); None when
    there is nothing to pay or this day's close already processed the account."""
    if account.paid_through is not None and account.paid_through >= day.isoformat():
        return None
    owed = account.end_of_day(day)
    if owed <= 0:
        return None
    after, tx = record(
        account, kind="payout", amount=-owed, reason=f"paid out to you: your balance at the end of {person_date(day)}",
        cause=f"payout:{account.employee_id}:{day.isoformat()}", business_day=day, calendar=calendar,
        recorded_at=recorded_at,
    )  # fmt: skip
    # The payout belongs to `day`; its delta must not count against the next day's end-of-day balance.
    delta = {d: v for d, v in after.day_delta.items() if d > day.isoformat()}
    return replace(after, day_delta=delta, paid_through=day.isoformat()), tx


def in_red_at_close(account: Account, day: date) -> bool:
    return account.end_of_day(day) < 0


@dataclass(frozen=True)
class ClosePlan:
    """What closing `day` does to a set of accounts (R-ACC-5): the payouts to record (the account as read,
    the account after its payout, the payout) and how many of the rest stay in the red. The close commits
    it page by page; the preview (R-UI-6) only adds it up, so the two cannot disagree."""

    payouts: list[tuple[Account, Account, Transaction]]
    in_red: int

    @property
    def total_paid(self) -> int:
        return sum(-tx.amount for _, _, tx in self.payouts)


def plan_close(accounts: Iterable[Account], day: date, calendar: Calendar, recorded_at: str) -> ClosePlan:
    """The close of `day` over `accounts`: a positive end-of-day balance is paid, a negative one carries
    over (counted in the red); an account this day's close has already processed is left alone."""
    payouts, in_red = [], 0
    for account in accounts:
        paid = payout(account, day, calendar, recorded_at)
        if paid:
            payouts.append((account, *paid))
        elif (account.paid_through or "") < day.isoformat() and in_red_at_close(account, day):
            in_red += 1
    return ClosePlan(payouts=payouts, in_red=in_red)


@dataclass(frozen=True)
class ClosePreview:
    """What closing a day would do now, summed over every account (R-UI-6), without doing it."""

    accounts: int = 0
    popugs_to_pay: int = 0
    total_to_pay: int = 0
    popugs_in_red: int = 0

    def add(self, visited: int, plan: ClosePlan) -> ClosePreview:
        return ClosePreview(
            accounts=self.accounts + visited, popugs_to_pay=self.popugs_to_pay + len(plan.payouts),
            total_to_pay=self.total_to_pay + plan.total_paid, popugs_in_red=self.popugs_in_red + plan.in_red,
        )  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    """Why a day cannot be closed now: the 409 a close request gets, and what the preview says instead."""

    code: str
    message: str
    details: Mapping[str, str] = field(default_factory=dict)


def close_refusal(day: date, today: date, calendar: Calendar) -> Refusal | None:
    """Whether `day` can be closed now (R-ACC-5: any day up to today, in order, from the first day); None when
    it can. A day already closed, or closing, is not refused: asking again answers with it as it stands."""
    if day > today:
        return Refusal(
            "future_day",
            f"{person_date(day)} has not ended yet: days close up to today ({person_date(today)}) at the latest.",
            {"next_open_day": calendar.next_open.isoformat()},
        )
    if day < calendar.first_day:
        return Refusal(
            "before_first_day",
            f"aTES started on {person_date(calendar.first_day)}; there is nothing to close before it.",
            {"first_day": calendar.first_day.isoformat()},
        )
    if day > calendar.next_open:
        return Refusal(
            "previous_day_open",
            f"{person_date(calendar.next_open)} is still open: days close in order, so close "
            f"{person_date(calendar.next_open)} ({calendar.next_open.isoformat()}) first.",
            {"next_open_day": calendar.next_open.isoformat()},
        )
    return None


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip


def person_time(moment: str) -> str:
    """A recorded time as a person reads it in an email: `6 December 2026, 14:05 UTC` (times are stored in UTC)."""
    try:
        at = datetime.fromisoformat(moment.replace("Z", "+00:00")).astimezone(ZoneInfo("UTC"))
    except ValueError:
        return moment
    return f"{person_date(at.date())}, {at:%H:%M} UTC"


def person_date(day: date | str) -> str:
    """A date as a person reads it in an email or a message: `6 December 2026`, not `2026-12-06` (R-UI-6).
    Spelled here rather than by the platform's locale, which a Lambda does not promise."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


# --- statistics (R-ACC-6) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DayStats:
    date: str
    status: str
    fees: int = 0  # positive sums, in cents
    rewards: int = 0
    payouts: int = 0
    popugs_paid: int = 0
    popugs_in_red: int | None = None  # known once the day is closed

    def public(self) -> dict:
        return {
            "date": self.date, "status": self.status, "management_earnings": self.fees - self.rewards,
            "fees": self.fees, "rewards": self.rewards, "payouts": self.payouts, "popugs_paid": self.popugs_paid,
            "popugs_in_red": self.popugs_in_red,
        }  # fmt: skip


def totals(days: Iterable[DayStats]) -> dict:
    days = list(days)
    fees, rewards = sum(d.fees for d in days), sum(d.rewards for d in days)
    return {
        "management_earnings": fees - rewards, "fees": fees, "rewards": rewards,
        "payouts": sum(d.payouts for d in days), "popugs_paid": sum(d.popugs_paid for d in days),
    }  # fmt: skip


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- the payout email (R-ACC-5) ----------------------------------------------------------------------


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def payout_email(account: Account, paid: Transaction, day_transactions: Iterable[Transaction],
                 tasks: Mapping[str, TaskInfo]) -> dict:  # fmt: skip
    """The per-popug data of the payout email template: amount, and the day's transactions."""
    lines = []
    for tx in sorted(day_transactions, key=lambda t: t.seq):
        if tx.kind == "payout":
            continue
        task = tasks.get(tx.task_id or "")
        lines.append({"kind": tx.kind, "amount": money(tx.amount), "what": _what(tx, task),
                      "at": person_time(tx.recorded_at)})  # fmt: skip
    return {
        "name": account.name or "popug", "day": person_date(paid.business_day), "business_day": paid.business_day,
        "amount": money(-paid.amount),
        "transactions": lines, "count": len(lines),
    }  # fmt: skip


def payout_email_html(data: Mapping, web_url: str) -> str:
    """The HTML part of a payout email, built here so that every value is escaped where it lands (R-SEC-7):
    SES does not escape template data in an HTML part (moto neither), and the name and the task titles are
    whatever people typed. The template's HtmlPart is only `{{html}}`; its TextPart keeps the plain values."""

    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    lines = "".join(f"<li>{e(t['kind'])} {e(t['amount'])} {e(t['what'])}</li>" for t in data.get("transactions", []))
    ledger = e(f"{web_url.rstrip('/')}/money")
    return (
        f"<p>Hello {e(data['name'])},</p><p>your balance at the end of {e(data['day'])} was "
        f"<b>{e(data['amount'])}</b>, and it has been paid out to you.</p><p>That day:</p><ul>{lines}</ul>"
        f'<p><a href="{ledger}">Your ledger</a></p><p>aTES accounting</p>'
    )


def _what(tx: Transaction, task: TaskInfo | None) -> str:
    title = tx.title or (task.title if task else None)
    jira = tx.jira_id or (task.jira_id if task else None)
    if not title:
        return tx.reason
    return f"[{jira}] {title}" if jira else title


# --- retention (R-ACC-7) -----------------------------------------------------------------------------


def retention_cutoff(closing: date) -> date:
    """Closing day D lets go of the transactions of business days up to D minus a year."""
    return closing - timedelta(days=RETENTION_DAYS)


def retained_until(day: date, timezone: str) -> int:
    """When what belongs to business day `day` is a year old (epoch seconds, for DynamoDB TTL): the end of
    day + 365 in the business timezone, after which the close of that day lets go of `day`'s transactions.
    What is kept about the day (its statistics, its close) goes with them, so nothing outlives the ledger's
    year (SPEC §10), and nothing the stats or a close still show goes before it."""
    return int(datetime.combine(day + timedelta(days=RETENTION_DAYS + 1), time.min, ZoneInfo(timezone)).timestamp())


AFTER_CLOSE_BACKUP = "after-close-"


def after_close_backup_name(day: date) -> str:
    return f"{AFTER_CLOSE_BACKUP}{day.isoformat()}"


def after_close_backup_expired(name: str, closed: date, keep_days: int) -> bool:
    """Whether the after-close backup `name` is past the backup retention once day `closed` is closed: its
    day is more than `keep_days` before. Counted in business days, as the backups are named and taken (one
    right after each close), so a backlog of closes run at once still keeps `keep_days` of them. Backups
    of other names are not accounting's to delete."""
    if not name.startswith(AFTER_CLOSE_BACKUP):
        return False
    try:
        day = date.fromisoformat(name.removeprefix(AFTER_CLOSE_BACKUP))
    except ValueError:
        return False
    return day < closed - timedelta(days=keep_days)


def rewarded(task: TaskInfo, day: date, timezone: str) -> TaskInfo:
    """A rewarded task is done: nothing more is booked for it, so accounting keeps it (price, title) a year
    after its reward's business day, as long as that reward stays in the ledger. An open task is kept while
    it is open, as tasks keeps it (R-TASK-6): forgetting its price would price it again (R-ACC-1)."""
    return replace(task, rewarded=True, expires_at=retained_until(day, timezone))


# --- a day's close as a job (R-ACC-5) ----------------------------------------------------------------


@dataclass(frozen=True)
class DayClose:
    """A day and its close. Phases: `count` the accounts, `pay` them page by page, `expire` the
    transactions that aged out (R-ACC-7), then closed. `step` grows with every recorded progress, which
    is what makes a duplicate or stale run of a step recognisable (its condition fails)."""

    business_day: str
    status: str = "open"  # open | closing | closed
    phase: str = "count"
    step: int = 0
    cursor: str | None = None
    total: int | None = None
    done: int = 0
    popugs_paid: int = 0
    total_paid: int = 0
    popugs_in_red: int = 0
    emails_queued: int = 0
    emails_sent: int = 0
    close_through: str | None = None  # a scheduled close goes on with the next days up to this one
    correlation_id: str | None = None  # of the request (or schedule run) that started it: its events carry it
    # The day's fees and rewards, final (no transaction is booked to a day once its close started), summed over
    # the statistics' shards when it closed: GET /accounting/stats reads a closed day here, one item.
    fees: int | None = None
    rewards: int | None = None
    started_at: str | None = None
    started_by: str | None = None
    updated_at: str | None = None
    finished_at: str | None = None

    def public(self, calendar: Calendar | None = None) -> dict:
        data = {
            "business_day": self.business_day, "status": self.status, "total": self.total, "done": self.done,
            "popugs_paid": self.popugs_paid, "total_paid": self.total_paid, "popugs_in_red": self.popugs_in_red,
            "emails_queued": self.emails_queued, "emails_sent": self.emails_sent, "started_at": self.started_at,
            "finished_at": self.finished_at,
        }  # fmt: skip
        if calendar is not None:
            data["next_open_day"] = calendar.next_open.isoformat()
        if self.status == "open":
            data["popugs_in_red"] = None  # only a close knows it
        return data


# --- searching and sorting the accounts list (R-UI-5) -----------------------------------------------------

ACCOUNT_SORTS = {"name": "asc", "balance": "desc"}  # the columns Balances sorts by, and each one's natural order
BALANCE_OFFSET = 10**15  # cents: a balance sorts as text once shifted to be non-negative (far beyond any real one)


@dataclass(frozen=True)
class AccountOrder:
    """How the accounts list is read: by name (the name index, where a search is a key prefix) or by
    balance (the balance index), in either direction."""

    by: Literal["name", "balance"]
    ascending: bool
    prefix: str | None = None


def account_order(sort: str | None, order: str | None, q: str | None) -> AccountOrder:
    """The order and search a request asks for, or a 422 that says what to send instead. A search is the start
    of a name (any case), read as a key prefix of the name index, so it costs what it finds; its results come
    in name order, so it cannot be sorted by balance."""
    by, ascending = sorting.direction(ACCOUNT_SORTS, sort, order, "Balances")
    text = sorting.search_text(q, "a name")
    if text and sort == "balance":
        raise Unprocessable(
            "A search lists popugs by name; sort by name, or clear the search to sort by balance.", code="invalid_sort"
        )
    return AccountOrder(by=by, ascending=ascending, prefix=text)  # type: ignore[arg-type]


def balance_sort_key(balance: int, employee_id: str) -> str:
    """An account's place in the balance index: the balance as fixed-width text that sorts like the number."""
    return f"{balance + BALANCE_OFFSET:016d}#{employee_id}"


def name_key(name: str | None) -> str:
    """A name as the name index sorts and searches it (unknown names last)."""
    return " ".join((name or "~").split()).lower()
