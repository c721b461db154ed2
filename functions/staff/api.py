"""Staff HTTP API (R-STAFF-1..3): admins hire, edit, transfer and dismiss employees and shape the
department tree; everyone signed in reads the directory and the org chart. Every change emits its
event through the outbox in the same transaction."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from shared import clock, pagination, sorting
from shared.contracts import REGISTRY
from shared.contracts.staff import DepartmentChangedV1, EmployeeDismissedV1, EmployeeHiredV1, EmployeeUpdatedV1
from shared.email_address import EmailStr
from shared.errors import Unprocessable
from shared.http import PathId, ResponseModel, answer, errors, make_resolver, only
from shared.observability import logger, tracer
from shared.responses import Page
from staff import store
from staff.domain import Department, Employee, ensure_no_cycle, normalise_email

app = make_resolver()
# The 409s of the writes: each is conditional on the version it read, so a concurrent change is `stale`.
EMAIL_TAKEN = (409, "the email belongs to an active employee (`email_taken`)")
STALE_OR_TAKEN = (409, "changed meanwhile (`stale`), or the email belongs to another active employee (`email_taken`)")
STALE_OR_DISMISSED = (409, "already dismissed (`already_dismissed`), or changed meanwhile (`stale`)")
STALE_OR_CYCLE = (
    409,
    "the move would make a cycle (`cycle`), another department has the name (`department_name_taken`), or it "
    "changed meanwhile (`stale`)",
)
NAME_TAKEN = (409, "another department has this name, whatever its capitals and spaces (`department_name_taken`)")
NOT_EMPTY = (409, "only an empty department can be deleted (`department_not_empty`)")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Position = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class HireRequest(Strict):
    name: Name
    email: EmailStr
    position: Position
    department_id: uuid.UUID | None = None


class EmployeePatch(Strict):
    name: Name | None = None
    email: EmailStr | None = None
    position: Position | None = None
    department_id: uuid.UUID | None = None


class DepartmentRequest(Strict):
    name: Name
    parent_id: uuid.UUID | None = None
    head_id: uuid.UUID | None = None


class DepartmentPatch(Strict):
    name: Name | None = None
    parent_id: uuid.UUID | None = None
    head_id: uuid.UUID | None = None


class EmployeeView(ResponseModel):
    employee_id: str
    name: str
    email: str
    position: str
    department_id: str | None
    status: Literal["active", "dismissed"]
    hired_at: str
    dismissed_at: str | None
    version: int


class DepartmentView(ResponseModel):
    department_id: str
    name: str
    parent_id: str | None
    head_id: str | None
    members: int
    children: int
    version: int


def _text(value: uuid.UUID | None) -> str | None:
    return str(value) if value else None


def _employee_event(employee: Employee, model: type[EmployeeHiredV1]) -> Any:
    return REGISTRY.envelope(
        model(
            employee_id=employee.employee_id, version=employee.version, name=employee.name,
            email=employee.email, position=employee.position, department_id=employee.department_id,
        ),
        correlation_id=app.current_event.request_context.request_id,
    )  # fmt: skip


def _department_event(department: Department, *, deleted: bool = False) -> Any:
    return REGISTRY.envelope(
        DepartmentChangedV1(
            department_id=department.department_id, version=department.version, name=department.name,
            parent_id=department.parent_id, head_id=department.head_id, deleted=deleted,
        ),
        correlation_id=app.current_event.request_context.request_id,
    )  # fmt: skip


# --- employees -----------------------------------------------------------------------------------


@app.get("/staff/employees")
def list_employees(
    q: Annotated[str | None, Query(max_length=200)] = None,
    department_id: Annotated[uuid.UUID | None, Query()] = None,
    status: Annotated[Literal["active", "dismissed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    sort: Annotated[str | None, Query(max_length=100, description="`name` (the only order)")] = None,
    order: Annotated[str | None, Query(max_length=100, description="`asc` (default) or `desc`")] = None,
) -> Page[EmployeeView]:
    _, ascending = sorting.direction({"name": "asc"}, sort, order, "Staff")
    employees, next_cursor = store.list_employees(
        limit, cursor, search=q, department_id=_text(department_id), status=status, ascending=ascending
    )
    return {"items": [e.public() for e in employees], "next_cursor": next_cursor}


@app.post("/staff/employees", **only("admin"), status_code=201, responses=errors(EMAIL_TAKEN))
def hire(body: HireRequest) -> Response[EmployeeView]:
    employee = Employee(
        employee_id=str(uuid.uuid4()), name=body.name, email=normalise_email(body.email), position=body.position,
        department_id=_text(body.department_id), status="active", version=1, hired_at=clock.iso(clock.now()),
    )  # fmt: skip
    store.hire(employee, [_employee_event(employee, EmployeeHiredV1)])
    logger.info("employee hired", employee_id=employee.employee_id)
    return answer(201, employee.public())


@app.get("/staff/employees/<employee_id>", responses=errors(404))
def get_employee(employee_id: PathId) -> EmployeeView:
    return store.get_employee(employee_id).public()


@app.patch("/staff/employees/<employee_id>", **only("admin"), responses=errors(404, STALE_OR_TAKEN))
def edit_employee(employee_id: PathId, body: EmployeePatch) -> EmployeeView:
    before = store.get_employee(employee_id)
    if before.status != "active":
        raise Unprocessable("a dismissed employee cannot be edited", code="dismissed")
    changes = body.model_dump(exclude_unset=True)
    if "email" in changes:
        changes["email"] = normalise_email(changes["email"])
    if "department_id" in changes:
        changes["department_id"] = _text(body.department_id)
    if ("name" in changes and not changes["name"]) or ("position" in changes and not changes["position"]):
        raise Unprocessable("name and position cannot be empty")
    if all(getattr(before, k) == v for k, v in changes.items()):
        return before.public()
    after = before.changed(**changes)
    store.save_employee(before, after, [_employee_event(after, EmployeeUpdatedV1)])
    return after.public()


@app.post("/staff/employees/<employee_id>/dismiss", **only("admin"), responses=errors(404, STALE_OR_DISMISSED))
def dismiss(employee_id: PathId) -> EmployeeView:
    before = store.get_employee(employee_id)
    now = clock.now()
    after = before.dismissed(clock.iso(now))
    event = REGISTRY.envelope(
        EmployeeDismissedV1(employee_id=after.employee_id, version=after.version, dismissed_at=now),
        correlation_id=app.current_event.request_context.request_id,
    )
    store.save_employee(before, after, [event])
    logger.info("employee dismissed", employee_id=employee_id)
    return after.public()


# --- departments ---------------------------------------------------------------------------------


@app.get("/staff/departments")
def list_departments(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.MAX_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Page[DepartmentView]:
    departments, next_cursor = store.list_departments(limit, cursor)
    return {"items": [d.public() for d in departments], "next_cursor": next_cursor}


@app.post("/staff/departments", **only("admin"), status_code=201, responses=errors(NAME_TAKEN))
def create_department(body: DepartmentRequest) -> Response[DepartmentView]:
    department = Department(
        department_id=str(uuid.uuid4()), name=body.name, parent_id=_text(body.parent_id),
        head_id=_text(body.head_id), version=1,
    )  # fmt: skip
    store.create_department(department, [_department_event(department)])
    return answer(201, department.public())


@app.patch("/staff/departments/<department_id>", **only("admin"), responses=errors(404, STALE_OR_CYCLE))
def edit_department(department_id: PathId, body: DepartmentPatch) -> DepartmentView:
    before = store.get_department(department_id)
    changes = body.model_dump(exclude_unset=True)
    for key in ("parent_id", "head_id"):
        if key in changes:
            changes[key] = _text(changes[key])
    if "name" in changes and not changes["name"]:
        raise Unprocessable("a department needs a name")
    if "parent_id" in changes:
        ensure_no_cycle(department_id, changes["parent_id"], store.parent_of)
    if all(getattr(before, k) == v for k, v in changes.items()):
        return before.public()
    after = before.changed(**changes)
    store.save_department(before, after, [_department_event(after)])
    return after.public()


@app.delete("/staff/departments/<department_id>", **only("admin"), status_code=204, responses=errors(404, NOT_EMPTY))
def delete_department(department_id: PathId) -> Response[None]:
    department = store.get_department(department_id)
    gone = department.changed()
    store.delete_department(department, [_department_event(gone, deleted=True)])
    return Response(status_code=204)  # no body at all: not even JSON `null`


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
