"""Auth reacts to staff (R-AUTH-4): EmployeeHired/EmployeeUpdated create or update the account
(role `worker`, an invitation for a new one; an email change moves the login), EmployeeDismissed
deactivates it so its tokens are refused from the next request on. Applied by staff `version`, so
redelivered, duplicated or out-of-order events leave the same result."""

from __future__ import annotations

from typing import Any

from auth import domain, store
from auth.events import account_events
from auth.invitations import invite
from shared.events.consumer import Consumer
from shared.events.outbox import outbox_put


def _commit(envelope: Any, before: domain.Account | None, after: domain.Account | None, extra=()) -> list[dict]:
    if after is None:
        return []  # not newer than what auth holds
    events = account_events(before, after, envelope.correlation_id)
    actions = store.account_actions(before, after) + list(extra)
    if events:
        actions.append(outbox_put(store.table(), events))
    return actions


def on_employee_saved(envelope: Any, data: Any) -> list[dict[str, Any]]:
    employee_id = str(data.employee_id)
    department_id = str(data.department_id) if data.department_id else None
    before = store.get_account(employee_id)
    after = domain.from_employee(
        before, employee_id=employee_id, version=data.version, name=data.name, email=data.email,
        department_id=department_id, department_roles=store.department_roles(department_id),
    )  # fmt: skip
    extra = invite(employee_id, after.email, after.name) if before is None and after is not None else []
    return _commit(envelope, before, after, extra)


def on_employee_dismissed(envelope: Any, data: Any) -> list[dict[str, Any]]:
    employee_id = str(data.employee_id)
    before = store.get_account(employee_id)
    return _commit(envelope, before, domain.dismissed(before, employee_id=employee_id, version=data.version))


lambda_handler = Consumer(
    "auth.on_employee_changed",
    store.table,
    {
        "EmployeeHired": on_employee_saved,
        "EmployeeUpdated": on_employee_saved,
        "EmployeeDismissed": on_employee_dismissed,
    },
)
