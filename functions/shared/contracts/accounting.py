"""Events of the accounting context (source `ates.accounting`), SPEC §9. Money in integer cents."""

from __future__ import annotations

from datetime import date
from typing import Literal

from shared.contracts.base import UUID, Cents, EventData


class TaskPricedV1(EventData):
    task_id: UUID
    assign_fee: Cents
    reward: Cents


class TransactionRecordedV1(EventData):
    transaction_id: UUID
    account_id: UUID
    kind: Literal["fee", "reward", "payout"]
    amount: Cents
    balance_after: Cents
    task_id: UUID | None
    reason: str
    business_day: date


class DayClosedV1(EventData):
    business_day: date
    popugs_paid: int
    total_paid: Cents
    popugs_in_red: int
