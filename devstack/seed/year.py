"""A company's year, simulated with the functions' own rules: tasks created, assigned to a uniformly random
assignee (R-TASK-2), shuffled now and then (R-TASK-3), completed by their assignee (R-TASK-4); each task
priced once by accounting's `price_task` (R-ACC-1), each assignment a fee and each completion a reward
(`accounting.domain.fee`/`reward`, R-ACC-3/4), each day closed by `accounting.domain.payout` for every
popug in id order (R-ACC-5), the day's statistics and DayClosed figures counted as the close counts them.

Everything the simulation decides goes to a `Sink` as it happens (a year of transactions is never held in
memory): domain transactions, and the event envelopes the functions would have published, shaped as
`shared.contracts` registers them (the caller validates a sample). Time is simulated: a day's work happens
between 00:10 and 23:50 of the business day, its close right after midnight.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from accounting import domain as accounting
from devstack.seed.people import Company, ids
from shared.contracts import REGISTRY

TASKS_PER_POPUG_DAY = 1.05  # with payouts, about 2.7 transactions per popug and day: a million for 1,000 a year
COMPLETED_SHARE = 0.95  # the rest wait, usually for the next shuffle
SHUFFLE_EVERY_DAYS = 14
CLOSE_AFTER_MIDNIGHT = timedelta(minutes=1)
VERBS = ("Sort", "Count", "Polish", "Carry", "Taste", "Hide", "Audit", "Feather", "Repaint", "Move", "Water")
THINGS = ("the seeds", "the perches", "the millet stock", "the cage bars", "the mirror", "the bell",
          "the nest boxes", "the cuttlebones", "the swings", "the water bowls", "the feather dusters")  # fmt: skip


class Sink(Protocol):
    def transaction(self, tx: accounting.Transaction) -> None: ...
    def event(self, envelope: dict[str, Any], *, tap: bool) -> None: ...


@dataclass(slots=True)
class SeededTask:
    """A task's life as the simulation knows it (what the tasks and accounting tables keep of it)."""

    task_id: str
    title: str
    jira_id: str | None
    description: str
    created_by: str
    created_at: datetime
    price: accounting.Price
    assignee_id: str
    assigned_at: datetime
    completed_at: datetime | None = None
    rewarded_day: date | None = None
    shuffled_by: str | None = None


@dataclass
class Day:
    """What a business day's close found and wrote."""

    day: date
    closed_at: datetime
    fees: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # shard -> cents
    rewards: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    counted: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # shard -> fee + reward count
    popugs_paid: int = 0
    total_paid: int = 0
    popugs_in_red: int = 0
    accounts: int = 0
    correlation_id: str = ""


@dataclass
class Year:
    first_day: date
    today: date
    accounts: dict[str, accounting.Account]
    tasks: dict[str, SeededTask]
    days: list[Day]  # the closed ones
    open_day: Day  # today: worked, not closed
    transactions: int = 0
    events: int = 0


def iso(moment: datetime) -> str:
    """The events' and the ledger's time format (shared.clock.iso)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Clerk:
    """Builds envelopes with seeded ids and simulated times (the registry's `envelope` takes `now` and
    random ids; a seeded year must be the same for the same seed)."""

    def __init__(self, rng: random.Random, sink: Sink) -> None:
        self.rng, self.sink, self.count = rng, sink, 0

    def emit(self, name: str, data: dict[str, Any], at: datetime, correlation_id: str, *, tap: bool = True) -> str:
        contract = REGISTRY.contract(name, REGISTRY.latest[name])
        event_id = ids(self.rng)
        self.sink.event(
            {"event_id": event_id, "event_name": name, "event_version": contract.version, "event_time": iso(at),
             "producer": contract.source, "correlation_id": correlation_id, "data": data},
            tap=tap,
        )  # fmt: skip
        self.count += 1
        return event_id


def simulate(company: Company, *, first_day: date, now: datetime, timezone: str, seed: int, sink: Sink,
             existing_accounts: int = 0, progress: Callable[[date], None] | None = None) -> Year:  # fmt: skip
    """Every business day from `first_day` to yesterday worked and closed, today worked up to `now`."""
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    clerk = Clerk(rng, sink)
    today = accounting.local_day(now, timezone)
    accounts = {
        p.employee_id: accounting.Account(p.employee_id, name=p.name, email=p.email, staff_version=1, exists=True)
        for p in company.popugs
    }
    order = sorted(accounts)  # a close walks the accounts in id order
    pool = sorted(p.employee_id for p in company.popugs if _assignee(p.roles))
    creators = [p.employee_id for p in company.popugs]
    tasks: dict[str, SeededTask] = {}
    open_ids: dict[str, None] = {}  # insertion-ordered set of the open tasks
    completions: dict[date, list[tuple[datetime, str, str]]] = defaultdict(list)  # day -> (when, task, who)
    days: list[Day] = []
    transactions = 0

    def local(day: date, seconds: float) -> datetime:
        return datetime.combine(day, time.min, zone) + timedelta(seconds=seconds)

    def book(who: str, make: Callable[[accounting.Account], tuple[accounting.Account, accounting.Transaction]],
             stats: Day | None, correlation_id: str) -> accounting.Transaction:  # fmt: skip
        nonlocal transactions
        accounts[who], tx = make(accounts[who])
        sink.transaction(tx)
        transactions += 1
        data = {
            "transaction_id": tx.transaction_id, "account_id": tx.employee_id, "kind": tx.kind, "amount": tx.amount,
            "balance_after": tx.balance_after, "task_id": tx.task_id, "reason": tx.reason,
            "business_day": tx.business_day,
        }  # fmt: skip
        clerk.emit("TransactionRecorded", data, datetime.fromisoformat(tx.recorded_at), correlation_id, tap=False)
        if stats is not None and tx.kind in ("fee", "reward"):
            shard = tx.employee_id[0]
            (stats.fees if tx.kind == "fee" else stats.rewards)[shard] += abs(tx.amount)
            stats.counted[shard] += 1
        return tx

    def info(task: SeededTask) -> accounting.TaskInfo:
        return accounting.TaskInfo(task.task_id, task.price, task.title, task.jira_id)

    def assign(task: SeededTask, who: str, at: datetime, reason: str, day: date, stats: Day, correlation: str) -> None:
        task.assignee_id, task.assigned_at = who, at
        event_id = clerk.emit("TaskAssigned", {"task_id": task.task_id, "assignee_id": who, "reason": reason}, at,
                              correlation)  # fmt: skip
        when = {"business_day": day, "calendar": accounting.Calendar(first_day, day),
                "recorded_at": iso(at + timedelta(milliseconds=700))}  # fmt: skip
        book(who, lambda a: accounting.fee(a, info(task), reason, event_id, **when), stats, correlation)
        if rng.random() < COMPLETED_SHARE:
            done = at + timedelta(minutes=rng.uniform(10, 2 * 24 * 60))
            done_day = accounting.local_day(done, timezone)
            if done_day == day:
                heapq.heappush(agenda, (done, next(sequence), "complete", (task.task_id, who)))
            else:
                completions[done_day].append((done, task.task_id, who))

    agenda: list[tuple[datetime, int, str, Any]] = []  # the day being worked: a heap of what happens when
    sequence = itertools.count()

    def work(day: date, stats: Day, until: datetime | None) -> None:
        start, end = local(day, 10 * 60), local(day, 23 * 3600 + 50 * 60)
        if until is not None:
            end = min(end, until)
        if end <= start:
            return
        share = (end - start) / (local(day, 23 * 3600 + 50 * 60) - start)
        count = round(len(pool) * TASKS_PER_POPUG_DAY * share * rng.uniform(0.85, 1.15))
        for moment in sorted(start + (end - start) * rng.random() for _ in range(count)):
            heapq.heappush(agenda, (moment, next(sequence), "create", None))
        for moment, task_id, who in completions.pop(day, []):
            heapq.heappush(agenda, (max(moment, start), next(sequence), "complete", (task_id, who)))
        if (day - first_day).days % SHUFFLE_EVERY_DAYS == SHUFFLE_EVERY_DAYS - 1 and local(day, 12 * 3600) < end:
            heapq.heappush(agenda, (local(day, 12 * 3600), next(sequence), "shuffle", None))
        while agenda:
            at, _, what, payload = heapq.heappop(agenda)
            if at >= end:
                continue  # after the day's work (or after `until`): it does not happen
            if what == "create":
                create(at, day, stats)
            elif what == "complete":
                complete(at, day, stats, *payload)
            else:
                shuffle(at, day, stats)

    def create(at: datetime, day: date, stats: Day) -> None:
        number = len(tasks) + 1
        title = f"{rng.choice(VERBS)} {rng.choice(THINGS)} #{number}"
        task = SeededTask(
            task_id=ids(rng), title=title, jira_id=f"UBERPOP-{number}" if rng.random() < 0.6 else None,
            description="" if rng.random() < 0.5 else f"{title}, carefully, before the next shuffle.",
            created_by=rng.choice(creators), created_at=at, price=accounting.price_task(rng),
            assignee_id="", assigned_at=at,
        )  # fmt: skip
        tasks[task.task_id] = task
        open_ids[task.task_id] = None
        correlation = ids(rng)
        clerk.emit("TaskCreated", {"task_id": task.task_id, "title": task.title, "jira_id": task.jira_id,
                                   "description": task.description, "due_date": None, "created_by": task.created_by},
                   at, correlation)  # fmt: skip
        assign(task, rng.choice(pool), at, "created", day, stats, correlation)
        price = {"task_id": task.task_id, "assign_fee": task.price.assign_fee, "reward": task.price.reward}
        clerk.emit("TaskPriced", price, at + timedelta(milliseconds=650), correlation)

    def complete(at: datetime, day: date, stats: Day, task_id: str, who: str) -> None:
        task = tasks[task_id]
        if task.completed_at is not None or task.assignee_id != who:
            return  # a shuffle took it away meanwhile: that completion would be refused (R-TASK-4)
        task.completed_at, task.rewarded_day = at, day
        del open_ids[task_id]
        correlation = ids(rng)
        clerk.emit("TaskCompleted", {"task_id": task_id, "assignee_id": who}, at, correlation)
        when = {"business_day": day, "calendar": accounting.Calendar(first_day, day),
                "recorded_at": iso(at + timedelta(milliseconds=700))}  # fmt: skip
        book(who, lambda a: accounting.reward(a, info(task), **when), stats, correlation)

    def shuffle(at: datetime, day: date, stats: Day) -> None:
        job, correlation = ids(rng), ids(rng)
        for offset, task_id in enumerate(list(open_ids)):
            task = tasks[task_id]
            task.shuffled_by = job
            assign(task, rng.choice(pool), at + timedelta(milliseconds=20 * offset), "shuffle", day, stats, correlation)

    def close(stats: Day) -> None:
        day = stats.day
        calendar = accounting.Calendar(first_day, day, closing=day)
        stats.correlation_id = ids(rng)
        for offset, employee_id in enumerate(order):
            account = accounts[employee_id]
            at = stats.closed_at + timedelta(milliseconds=5 * offset)
            paid = accounting.payout(account, day, calendar, iso(at))
            if paid:
                stats.popugs_paid += 1
                stats.total_paid += -paid[1].amount
                book(employee_id, lambda a, p=paid: p, None, stats.correlation_id)
            elif accounting.in_red_at_close(account, day):
                stats.popugs_in_red += 1
        stats.accounts = len(order) + existing_accounts
        clerk.emit("DayClosed", {"business_day": day.isoformat(), "popugs_paid": stats.popugs_paid,
                                 "total_paid": stats.total_paid, "popugs_in_red": stats.popugs_in_red},
                   stats.closed_at + timedelta(seconds=5 + len(order) * 0.005), stats.correlation_id)  # fmt: skip

    day = first_day
    while day < today:
        after_midnight = local(day + timedelta(days=1), CLOSE_AFTER_MIDNIGHT.total_seconds())
        closed_at = min(after_midnight, now - timedelta(seconds=30))
        stats = Day(day, closed_at)
        work(day, stats, None)
        close(stats)
        days.append(stats)
        if progress:
            progress(day)
        day += timedelta(days=1)
    open_day = Day(today, now)
    work(today, open_day, now - timedelta(seconds=30))
    return Year(first_day, today, accounts, tasks, days, open_day, transactions, clerk.count)


def _assignee(roles: tuple[str, ...]) -> bool:
    from tasks.domain import is_assignee

    return is_assignee(roles, True)
