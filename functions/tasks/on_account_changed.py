"""The assignee pool (R-TASK-2), learned from events only: auth's AccountCreated / AccountRolesChanged
(effective roles and the active flag, with the account's `version`) and staff's EmployeeDismissed.

Order-tolerant (R-EV-3): an account event is applied only if its `version` is newer than the one held,
so duplicates and late old events change nothing; a dismissal is final and holds even when it arrives
before the account does. The pool item changes in the same transaction as the account, and only when
the popug's eligibility changes."""

from __future__ import annotations

from typing import Any

from shared.events.consumer import Consumer
from tasks import domain, store


def _actions(before: domain.Popug | None, after: domain.Popug | None) -> list[dict[str, Any]]:
    return [] if after is None else store.popug_actions(before, after)


def on_account(envelope: Any, data: Any) -> list[dict[str, Any]]:
    account_id = str(data.account_id)
    before = store.get_popug(account_id)
    after = domain.apply_account(
        before, account_id=account_id, version=data.version, roles=data.roles, active=data.active
    )
    return _actions(before, after)


def on_dismissed(envelope: Any, data: Any) -> list[dict[str, Any]]:
    employee_id = str(data.employee_id)
    before = store.get_popug(employee_id)
    return _actions(before, domain.apply_dismissal(before, account_id=employee_id))


lambda_handler = Consumer(
    "tasks.on_account_changed",
    store.table,
    {"AccountCreated": on_account, "AccountRolesChanged": on_account, "EmployeeDismissed": on_dismissed},
)
