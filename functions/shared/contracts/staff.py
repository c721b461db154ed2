"""Events of the staff context (source `ates.staff`), SPEC §9."""

from __future__ import annotations

from datetime import datetime

from shared.contracts.base import UUID, EntityVersion, EventData


class EmployeeHiredV1(EventData):
    employee_id: UUID
    version: EntityVersion
    name: str
    email: str
    position: str
    department_id: UUID | None


class EmployeeUpdatedV1(EmployeeHiredV1):
    pass


class EmployeeDismissedV1(EventData):
    employee_id: UUID
    version: EntityVersion
    dismissed_at: datetime


class DepartmentChangedV1(EventData):
    department_id: UUID
    version: EntityVersion
    name: str
    parent_id: UUID | None
    head_id: UUID | None
    deleted: bool
