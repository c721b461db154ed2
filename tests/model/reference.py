"""A reference model of SPEC §5 (tasks) and §6 (accounting): the business rules as plain Python, with no AWS
and no product code, so that a property test can hold the real system against it.

The model is told what happened (a hire, a role change, a task created, a shuffle, a completion, a day's
close, an event reaching accounting) and predicts what a user would see: every popug's ledger (kind, amount,
task, business day, why), balance, payouts per closed day and payout emails. Where the product decides by
chance (who gets a task, what a task costs), the model takes the product's observed choice as input and
CHECKS that the choice was allowed: the assignee was eligible at that moment (R-TASK-2), every open task was
reassigned exactly once by a shuffle (R-TASK-3), prices are in range and never change (R-ACC-1).

Every check that fails raises `ModelViolation` with a message naming the rule and the popugs and tasks by
short labels (P1, T3) in the order they appeared.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

# The SPEC's numbers, restated rather than imported: the model must not share a bug with the product.
FEE_RANGE = (1000, 2000)  # R-ACC-1, cents, inclusive
REWARD_RANGE = (2000, 4000)
ASSIGNEE_ROLE = "worker"  # R-TASK-2 (SPEC §2)
NEVER_ASSIGNEE_ROLES = frozenset({"manager", "admin"})

Kind = Literal["fee", "reward", "payout"]
Why = Literal["created", "shuffle"] | None


class ModelViolation(AssertionError):
    """The product did something the SPEC does not allow (or the model does not predict)."""


@dataclass
class Popug:
    popug_id: str
    label: str
    email: str
    roles: frozenset[str] = frozenset({"worker"})  # R-AUTH-4: a new account is a worker
    active: bool = True
    dismissed: bool = False

    @property
    def eligible(self) -> bool:
        """R-TASK-2: active, with `worker` and neither `manager` nor `admin` (and, being dismissed, not active)."""
        return (
            self.active
            and not self.dismissed
            and ASSIGNEE_ROLE in self.roles
            and not (self.roles & NEVER_ASSIGNEE_ROLES)
        )


@dataclass
class Task:
    task_id: str
    label: str
    assignee: str
    done: bool = False


@dataclass(frozen=True)
class Booking:
    """A fee or reward as the model expects accounting to book it; its amount comes from the task's price."""

    popug_id: str
    kind: Kind
    task_id: str
    business_day: date
    why: Why


@dataclass(frozen=True)
class Entry:
    """One ledger line as a user reads it (ids and timestamps left out)."""

    kind: Kind
    amount: int
    task_id: str | None
    business_day: date
    why: Why = None


@dataclass(frozen=True)
class Email:
    to: str
    business_day: date
    amount: int  # cents paid
    transactions: int  # fee and reward lines of that day the email lists


@dataclass(frozen=True)
class DaySummary:
    popugs_paid: int
    total_paid: int
    popugs_in_red: int


@dataclass(frozen=True)
class ExpectedEvent:
    """An event tasks must publish: name, task, assignee, reason (None where the event has none)."""

    name: str
    task_id: str
    assignee: str | None = None
    reason: Why = None


@dataclass
class Calendar:
    """R-ACC-2/5: days close in order; a transaction belongs to the first day not closed at or after today,
    and a day being closed already takes no new transactions."""

    today: date
    next_open: date
    closing: bool = False

    def booking_day(self) -> date:
        day = max(self.today, self.next_open)
        return day + timedelta(days=1) if self.closing and day == self.next_open else day


@dataclass
class Reference:
    """The whole of §5 and §6 that a user can observe, as the model predicts it."""

    today: date
    popugs: dict[str, Popug] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    prices: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> (assign fee, reward)
    bookings: list[Booking] = field(default_factory=list)
    payouts: dict[str, list[Entry]] = field(default_factory=dict)
    emails: list[Email] = field(default_factory=list)
    days: dict[date, DaySummary] = field(default_factory=dict)
    expected_events: Counter[ExpectedEvent] = field(default_factory=Counter)  # caused, not yet published
    published: dict[str, ExpectedEvent] = field(default_factory=dict)  # event id -> what it was
    booked_events: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.calendar = Calendar(today=self.today, next_open=self.today)

    # --- people (their events come from auth and staff, outside §5/§6) ---------------------------------
    def hire(self, popug_id: str, email: str) -> Popug:
        popug = Popug(popug_id, f"P{len(self.popugs) + 1}", email)
        self.popugs[popug_id] = popug
        return popug

    def set_roles(self, popug_id: str, roles: frozenset[str]) -> None:
        self.popugs[popug_id].roles = frozenset(roles)

    def change_email(self, popug_id: str, email: str) -> None:
        self.popugs[popug_id].email = email

    def dismiss(self, popug_id: str) -> None:
        popug = self.popugs[popug_id]
        popug.dismissed, popug.active = True, False

    def eligible(self) -> set[str]:
        return {p.popug_id for p in self.popugs.values() if p.eligible}

    # --- tasks (§5) ------------------------------------------------------------------------------------
    def create_task(self, status: int, code: str | None, task_id: str | None, assignee: str | None) -> None:
        """R-TASK-2: a new task goes at once to an eligible popug, or, with none, 409 and nothing exists."""
        pool = self.eligible()
        if not pool:
            self.expect((status, code), (409, "no_assignee"), "R-TASK-2 create with nobody eligible")
            return
        self.expect(status, 201, f"R-TASK-2 create with eligible {self._names(pool)}")
        assert task_id is not None and assignee is not None
        if assignee not in pool:
            raise ModelViolation(
                f"R-TASK-2: a new task went to {self._name(assignee)}, who is not eligible ({self._names(pool)} are)"
            )
        self.tasks[task_id] = Task(task_id, f"T{len(self.tasks) + 1}", assignee)
        self.expected_events[ExpectedEvent("TaskCreated", task_id)] += 1
        self.expected_events[ExpectedEvent("TaskAssigned", task_id, assignee, "created")] += 1

    def complete(self, task_id: str, caller: str, status: int, code: str | None) -> None:
        """R-TASK-4: only the current assignee completes an open task; a done task is `already_done`."""
        task = self.tasks[task_id]
        if task.done:
            expected: tuple[int, str | None] = (409, "already_done")
        elif task.assignee != caller:
            expected = (409, "not_assignee")
        else:
            expected = (200, None)
        self.expect((status, code), expected, f"R-TASK-4 {self._name(caller)} completes {task.label}")
        if expected[0] == 200:
            task.done = True
            self.expected_events[ExpectedEvent("TaskCompleted", task_id, caller)] += 1

    def shuffle(self, status: int, code: str | None, reassigned: dict[str, str] | None) -> None:
        """R-TASK-3: every open task gets an eligible assignee (maybe the same one), once per shuffle; with
        nobody eligible the press is 409 and nothing moves."""
        pool = self.eligible()
        if not pool:
            self.expect((status, code), (409, "no_assignee"), "R-TASK-3 shuffle with nobody eligible")
            return
        self.expect(status, 202, "R-TASK-3 shuffle")
        assert reassigned is not None
        open_tasks = {t.task_id for t in self.tasks.values() if not t.done}
        if set(reassigned) != open_tasks:
            raise ModelViolation(
                f"R-TASK-3: the shuffle reassigned {self._tasks(set(reassigned))}, the open tasks are "
                f"{self._tasks(open_tasks)}"
            )
        for task_id, assignee in reassigned.items():
            if assignee not in pool:
                raise ModelViolation(
                    f"R-TASK-3: {self.tasks[task_id].label} was shuffled to {self._name(assignee)}, who is not "
                    f"eligible (eligible: {self._names(pool)})"
                )
            self.tasks[task_id].assignee = assignee
            self.expected_events[ExpectedEvent("TaskAssigned", task_id, assignee, "shuffle")] += 1

    def published_event(self, event_id: str, event: ExpectedEvent) -> None:
        """Tasks published `event` (R-EV-2): it must be one that an operation caused; republishing the same
        event id is allowed (at least once), a second event for one cause is not."""
        if event_id in self.published:
            if self.published[event_id] != event:
                raise ModelViolation(f"event {event_id} was published twice with different contents")
            return
        if self.expected_events[event] <= 0:
            raise ModelViolation(f"tasks published {self._event(event)}, which no operation caused (or twice)")
        self.expected_events[event] -= 1
        self.published[event_id] = event

    def unpublished(self) -> list[str]:
        return [self._event(e) for e, n in self.expected_events.items() for _ in range(n)]

    # --- accounting (§6) -------------------------------------------------------------------------------
    def observe_price(self, task_id: str, assign_fee: int, reward: int) -> None:
        """R-ACC-1: the price is in range, and never changes once set."""
        if not (FEE_RANGE[0] <= assign_fee <= FEE_RANGE[1] and REWARD_RANGE[0] <= reward <= REWARD_RANGE[1]):
            raise ModelViolation(f"R-ACC-1: {self.task_label(task_id)} priced fee {assign_fee}, reward {reward}")
        if self.prices.setdefault(task_id, (assign_fee, reward)) != (assign_fee, reward):
            raise ModelViolation(
                f"R-ACC-1: {self.task_label(task_id)} priced twice: {self.prices[task_id]}, then {(assign_fee, reward)}"
            )

    def event_booked(self, event_id: str) -> None:
        """A published event reached accounting and was applied for the first time, now: R-ACC-3 books a fee
        per TaskAssigned, R-ACC-4 a reward per TaskCompleted, on the business day of this moment (R-ACC-2)."""
        if event_id in self.booked_events:
            return
        self.booked_events.add(event_id)
        event = self.published[event_id]
        day = self.calendar.booking_day()
        if event.name == "TaskAssigned":
            assert event.assignee is not None
            self.bookings.append(Booking(event.assignee, "fee", event.task_id, day, event.reason))
        elif event.name == "TaskCompleted":
            assert event.assignee is not None
            self.bookings.append(Booking(event.assignee, "reward", event.task_id, day, None))

    def new_day(self) -> None:
        self.calendar.today += timedelta(days=1)

    def close_refusal(self) -> str | None:
        """Closing the next open day: refused only if that day has not begun (R-ACC-5: up to today)."""
        return "future_day" if self.calendar.next_open > self.calendar.today else None

    def close_started(self) -> date:
        self.calendar.closing = True
        return self.calendar.next_open

    def close_finished(self) -> DaySummary:
        """R-ACC-5: every popug (dismissed too) with a positive balance at the end of the day is paid it and
        emailed the amount with the day's transactions; zero and debts carry over."""
        day = self.calendar.next_open
        paid, total, in_red = 0, 0, 0
        for popug in self.popugs.values():
            owed = sum(e.amount for e in self.ledger(popug.popug_id) if e.business_day <= day)
            if owed < 0:
                in_red += 1
            if owed <= 0:
                continue
            self.payouts.setdefault(popug.popug_id, []).append(Entry("payout", -owed, None, day))
            lines = sum(1 for b in self.bookings if b.popug_id == popug.popug_id and b.business_day == day)
            self.emails.append(Email(popug.email, day, owed, lines))
            paid, total = paid + 1, total + owed
        summary = DaySummary(paid, total, in_red)
        self.days[day] = summary
        self.calendar.next_open += timedelta(days=1)
        self.calendar.closing = False
        return summary

    # --- what a user sees ------------------------------------------------------------------------------
    def amount(self, booking: Booking) -> int:
        if booking.task_id not in self.prices:
            raise ModelViolation(f"R-ACC-1: {self.task_label(booking.task_id)} was booked but never priced")
        fee, reward = self.prices[booking.task_id]
        return -fee if booking.kind == "fee" else reward

    def ledger(self, popug_id: str) -> list[Entry]:
        """The popug's ledger in a canonical order (delivery is unordered, so the product's order is not
        predicted; each balance_after is checked against the product's own order instead)."""
        mine = [b for b in self.bookings if b.popug_id == popug_id]
        booked = [Entry(b.kind, self.amount(b), b.task_id, b.business_day, b.why) for b in mine]
        return canonical([*booked, *self.payouts.get(popug_id, [])])

    def balance(self, popug_id: str) -> int:
        return sum(e.amount for e in self.ledger(popug_id))

    # --- labels for messages ---------------------------------------------------------------------------
    def _name(self, popug_id: str) -> str:
        popug = self.popugs.get(popug_id)
        return popug.label if popug else f"unknown popug {popug_id}"

    def _names(self, ids: set[str]) -> str:
        return "{" + ", ".join(sorted(self._name(i) for i in ids)) + "}"

    def task_label(self, task_id: str) -> str:
        task = self.tasks.get(task_id)
        return task.label if task else f"unknown task {task_id}"

    def _tasks(self, ids: set[str]) -> str:
        return "{" + ", ".join(sorted(self.task_label(i) for i in ids)) + "}"

    def _event(self, e: ExpectedEvent) -> str:
        who = f" to {self._name(e.assignee)}" if e.assignee else ""
        return f"{e.name}({self.task_label(e.task_id)}{who}{f', {e.reason}' if e.reason else ''})"

    def describe(self, entries: list[Entry]) -> list[str]:
        return [
            f"{e.kind} {e.amount:+d} {self.task_label(e.task_id) if e.task_id else '-'} {e.business_day}"
            f"{f' ({e.why})' if e.why else ''}"
            for e in entries
        ]

    @staticmethod
    def expect(got: object, expected: object, what: str) -> None:
        if got != expected:
            raise ModelViolation(f"{what}: expected {expected}, the product answered {got}")


def canonical(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e.business_day, e.kind, e.task_id or "", e.why or "", e.amount))
