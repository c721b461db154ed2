"""Step one of creating the first admin (R-AUTH-8): hire them through staff like anyone else, so
their id is an employee id. Idempotent: an active employee with this email is returned as is.
Step two is auth's `bootstrap_admin`, which makes the resulting account an admin."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

from shared import clock
from shared.contracts import REGISTRY
from shared.contracts.staff import EmployeeHiredV1
from shared.email_address import EmailStr
from shared.observability import logger
from staff import store
from staff.domain import Employee, normalise_email


class BootstrapHire(BaseModel):
    email: EmailStr  # the same rule as the staff API, so the admin can be edited like anyone
    name: str = Field(default="Administrator", min_length=1, max_length=200)
    position: str = Field(default="Administrator", min_length=1, max_length=200)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = BootstrapHire.model_validate(event or {})
    email = normalise_email(request.email)
    existing = store.find_active_by_email(email)
    if existing:
        return {**existing.public(), "hired_now": False}
    employee = Employee(
        employee_id=str(uuid.uuid4()), name=request.name, email=email, position=request.position,
        department_id=None, status="active", version=1, hired_at=clock.iso(clock.now()),
    )  # fmt: skip
    event_data = EmployeeHiredV1(
        employee_id=employee.employee_id, version=1, name=employee.name, email=email,
        position=employee.position, department_id=None,
    )  # fmt: skip
    store.hire(employee, [REGISTRY.envelope(event_data)])
    logger.info("bootstrap employee hired", employee_id=employee.employee_id)
    return {**employee.public(), "hired_now": True}
