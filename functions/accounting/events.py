"""The events accounting announces (SPEC §9): TaskPriced once per task, TransactionRecorded for every
ledger transaction, DayClosed when a day's close finishes."""

from __future__ import annotations

from accounting.domain import DayClose, Price, Transaction
from shared.contracts import REGISTRY, Envelope
from shared.contracts.accounting import DayClosedV1, TaskPricedV1, TransactionRecordedV1


def priced(task_id: str, price: Price, correlation_id: str | None = None) -> Envelope:
    return REGISTRY.envelope(
        TaskPricedV1(task_id=task_id, assign_fee=price.assign_fee, reward=price.reward), correlation_id=correlation_id
    )


def recorded(tx: Transaction, correlation_id: str | None = None) -> Envelope:
    return REGISTRY.envelope(
        TransactionRecordedV1(
            transaction_id=tx.transaction_id, account_id=tx.employee_id, kind=tx.kind, amount=tx.amount,
            balance_after=tx.balance_after, task_id=tx.task_id, reason=tx.reason, business_day=tx.business_day,
        ),
        correlation_id=correlation_id,
    )  # fmt: skip


def day_closed(job: DayClose, correlation_id: str | None = None) -> Envelope:
    return REGISTRY.envelope(
        DayClosedV1(
            business_day=job.business_day, popugs_paid=job.popugs_paid, total_paid=job.total_paid,
            popugs_in_red=job.popugs_in_red,
        ),
        correlation_id=correlation_id,
    )  # fmt: skip
