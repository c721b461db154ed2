"""Tasks' events -> prices and the ledger (R-ACC-1, R-ACC-3, R-ACC-4).

A task is priced by whichever of its events arrives first (R-EV-3: an assignment may come before the
task); TaskCreated only adds the title and jira id. Each TaskAssigned debits its assignee the fee, each
TaskCompleted credits the reward: the account, its new ledger entry, the day's statistics and the
TransactionRecorded event commit in the consumer's one transaction with the inbox marker, so an event is
booked exactly once whatever the redelivery. The write holds only if the business day it was booked to
is still open (R-ACC-2); otherwise the consumer applies it again from fresh reads, to the next day.
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


def on_created(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    task_id = str(data.task_id)
    task = store.tasks_by_ids([task_id]).get(task_id)
    after, announced = _priced(envelope, task_id, task)
    after = replace(after, title=data.title, jira_id=data.jira_id)
    actions = [store.task_action(task, after)]
    if announced:
        actions.append(store.outbox_action(announced))
    return actions


def _book(envelope: Envelope, data: Any, kind: str) -> list[dict[str, Any]]:
    task_id, assignee = str(data.task_id), str(data.assignee_id)
    calendar, task, account = store.read_for_event(assignee, task_id)
    now = clock.now()
    today = domain.local_day(now, settings().business_timezone)
    calendar = calendar or store.ensure_calendar(today)
    priced, announced = _priced(envelope, task_id, task)
    if kind == "reward" and priced.rewarded:
        logger.warning("a second completion of a rewarded task is ignored", task_id=task_id)
        return []
    day = calendar.business_day(today)
    when = {"business_day": day, "calendar": calendar, "recorded_at": clock.iso(now)}
    if kind == "fee":
        after, tx = domain.fee(account.account, priced, data.reason, str(envelope.event_id), **when)
        task_after = priced
    else:
        after, tx = domain.reward(account.account, priced, **when)
        task_after = domain.rewarded(priced, day, settings().business_timezone)
    actions = [
        store.account_action(account, after),
        *store.transaction_actions(tx),
        store.day_is_open(day),
        store.outbox_action([*announced, events.recorded(tx, envelope.correlation_id)]),
    ]
    if task_after != task:
        actions.append(store.task_action(task, task_after))
    return actions


def on_assigned(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    return _book(envelope, data, "fee")


def on_completed(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    return _book(envelope, data, "reward")


lambda_handler = Consumer(
    "accounting.on_task_event",
    store.table,
    {"TaskCreated": on_created, "TaskAssigned": on_assigned, "TaskCompleted": on_completed},
)
