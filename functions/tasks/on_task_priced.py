"""Accounting's prices on tasks (R-UI-4): `TaskPriced {task_id, assign_fee, reward}` is kept with the task,
so a task shows its fee and reward in lists and on its own page as soon as accounting has priced it.

Idempotent by `event_id` (the consumer's inbox marker, in the same transaction) and by nature (a price never
changes, R-ACC-1). Order-tolerant (R-EV-3): a price for a task that is not stored here (not yet, as after a
restore or a bulk load, or no longer) waits in a price item under the task's key, which every read of the
task merges, so whichever comes first, the task is shown with its price."""

from __future__ import annotations

from typing import Any

from shared.events.consumer import Consumer
from tasks import store
from tasks.domain import Price


def on_priced_together(items: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    tasks = store.tasks_by_ids(str(data.task_id) for _, data in items)
    return [
        action
        for _, data in items
        for action in store.price_actions(
            str(data.task_id), Price(data.assign_fee, data.reward), tasks.get(str(data.task_id))
        )
    ]


def on_priced(envelope: Any, data: Any) -> list[dict[str, Any]]:
    return on_priced_together([(envelope, data)])


lambda_handler = Consumer("tasks.on_task_priced", store.table, {"TaskPriced": on_priced}, together=on_priced_together)
