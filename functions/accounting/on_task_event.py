"""Tasks' events -> prices and the ledger (R-ACC-1, R-ACC-3, R-ACC-4).

A task is priced by whichever of its events arrives first (R-EV-3: an assignment may come before the
task); TaskCreated only adds the title and jira id. Each TaskAssigned debits its assignee the fee, each
TaskCompleted credits the reward: the account, its new ledger entry, the day's statistics and the
TransactionRecorded event commit in the consumer's one transaction with the inbox marker, so an event is
booked exactly once whatever the redelivery. The write holds only if the business day it was booked to
is still open (R-ACC-2); otherwise the consumer applies it again from fresh reads, to the next day.

A queue batch is booked together (`Books`): one read of its tasks and accounts, one transaction with all
its inbox markers. A shuffle sends hundreds of TaskAssigned at once, and booking them one by one (a read
and a transaction each) was what kept accounting behind after a load. One event alone goes the same way.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from accounting import domain, events, store
from accounting.domain import TaskInfo
from accounting.settings import get as settings
from shared import clock
from shared.contracts import Envelope
from shared.events.consumer import Consumer
from shared.observability import logger

rng: random.Random = random.SystemRandom()  # injectable for tests; unpredictable prices in production


def _priced(envelope: Envelope, task_id: str, task: TaskInfo | None) -> tuple[TaskInfo, list[Envelope]]:
    """The task as it will be after this event, priced if it was not yet (with its TaskPriced)."""
    if task is not None and task.price is not None:
        return task, []
    price = domain.price_task(rng)
    return replace(task or TaskInfo(task_id=task_id), price=price), [
        events.priced(task_id, price, envelope.correlation_id)
    ]


class Books:
    """The part of the books a batch of task events touches: read in one consistent BatchGetItem, changed in
    memory event by event in delivery order (a task created, assigned and completed in one batch is priced,
    charged and rewarded as if one at a time), then written as one transaction by `actions`. Every write
    is conditional on what was read, so a concurrent writer makes the whole transaction fail and the
    consumer applies the batch again from fresh reads."""

    def __init__(self, items: list[tuple[Envelope, Any]]) -> None:
        assignees = [str(data.assignee_id) for _, data in items if hasattr(data, "assignee_id")]
        self.calendar, self.tasks_read, self.accounts_read = store.read_for_events(
            assignees, [str(data.task_id) for _, data in items]
        )
        self.tasks: dict[str, TaskInfo] = dict(self.tasks_read)
        self.accounts = {e: read.account for e, read in self.accounts_read.items()}
        self.now = clock.now()  # one moment for the batch: its bookings belong to one business day
        self.today = domain.local_day(self.now, settings().business_timezone)
        self.entries: list[domain.Transaction] = []
        self.events: list[Envelope] = []

    def apply(self, envelope: Envelope, data: Any) -> None:
        if envelope.event_name == "TaskCreated":
            self.created(envelope, data)
        else:
            self.book(envelope, data, "fee" if envelope.event_name == "TaskAssigned" else "reward")

    def created(self, envelope: Envelope, data: Any) -> None:
        task_id = str(data.task_id)
        priced, announced = _priced(envelope, task_id, self.tasks.get(task_id))
        self.tasks[task_id] = replace(priced, title=data.title, jira_id=data.jira_id)
        self.events += announced

    def book(self, envelope: Envelope, data: Any, kind: str) -> None:
        task_id, assignee = str(data.task_id), str(data.assignee_id)
        priced, announced = _priced(envelope, task_id, self.tasks.get(task_id))
        if kind == "reward" and priced.rewarded:
            logger.warning("a second completion of a rewarded task is ignored", task_id=task_id)
            return
        self.calendar = self.calendar or store.ensure_calendar(self.today)
        day = self.calendar.business_day(self.today)
        when = {"business_day": day, "calendar": self.calendar, "recorded_at": clock.iso(self.now)}
        account = self.accounts[assignee]
        if kind == "fee":
            self.accounts[assignee], tx = domain.fee(account, priced, data.reason, str(envelope.event_id), **when)
            self.tasks[task_id] = priced
        else:
            self.accounts[assignee], tx = domain.reward(account, priced, **when)
            self.tasks[task_id] = domain.rewarded(priced, day, settings().business_timezone)
        self.entries.append(tx)
        self.events += [*announced, events.recorded(tx, envelope.correlation_id)]

    def actions(self) -> list[dict[str, Any]]:
        """What changed, as one transaction's actions; the business day's check once, if anything is booked."""
        actions = [
            store.account_action(self.accounts_read[e], after)
            for e, after in self.accounts.items()
            if after is not self.accounts_read[e].account
        ]
        actions += [store.ledger_entry_action(tx) for tx in self.entries]
        actions += store.stats_actions(self.entries)
        if self.entries and self.calendar:
            actions.append(store.day_is_open(self.calendar.business_day(self.today)))
        if self.events:
            actions.append(store.outbox_action(self.events))
        actions += [
            store.task_action(self.tasks_read.get(t), after)
            for t, after in self.tasks.items()
            if after != self.tasks_read.get(t)
        ]
        return actions


def apply_together(items: list[tuple[Envelope, Any]]) -> list[dict[str, Any]]:
    """The actions that book a batch of task events, in order, in one transaction."""
    books = Books(items)
    for envelope, data in items:
        books.apply(envelope, data)
    return books.actions()


def apply_one(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    return apply_together([(envelope, data)])


lambda_handler = Consumer(
    "accounting.on_task_event",
    store.table,
    {"TaskCreated": apply_one, "TaskAssigned": apply_one, "TaskCompleted": apply_one},
    together=apply_together,
)
