"""Staff's events -> who the popugs are and where their payout email goes (R-ACC-5).

EmployeeHired / EmployeeUpdated carry the employee's whole state with a `version`: applied only when
newer than what accounting holds, so duplicates and late old events change nothing (R-EV-3). A dismissal
is final; the popug keeps their balance (debts carry over, and a positive balance is still paid out).
An account that a task event created first (no name yet) is simply completed here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from accounting import store
from shared.contracts import Envelope
from shared.events.consumer import Consumer


def on_employee(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    read = store.get_account(str(data.employee_id))
    if data.version <= read.account.staff_version:
        return []
    after = replace(read.account, name=data.name, email=data.email, staff_version=data.version)
    return [store.account_action(read, after)]


def on_dismissed(envelope: Envelope, data: Any) -> list[dict[str, Any]]:
    read = store.get_account(str(data.employee_id))
    if read.account.dismissed:
        return []
    return [store.account_action(read, replace(read.account, dismissed=True))]


lambda_handler = Consumer(
    "accounting.on_employee_changed",
    store.table,
    {"EmployeeHired": on_employee, "EmployeeUpdated": on_employee, "EmployeeDismissed": on_dismissed},
)
