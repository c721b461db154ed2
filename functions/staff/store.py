"""The staff table behind small functions; the only module that knows its keys.

    EMPLOYEE#<id> / EMPLOYEE      the employee (gsi1: "EMPLOYEE" / name, for the directory)
    EMAIL#<email> / EMAIL         claims an email for one ACTIVE employee (R-STAFF-3 uniqueness)
    DEPTNAME#<key> / DEPTNAME     claims a department name (its `name_key`: trimmed, spaces collapsed,
                                  case-folded) for one department: written in the same transaction as the
                                  department, conditional on not existing, so of two concurrent creates
                                  (or renames) to one name exactly one commits and the other is a 409
    DEPARTMENT#<id> / DEPARTMENT  a department with counters of members and children, so "delete only
                                  when empty" is one condition, safe against a concurrent hire
                                  (gsi1: "DEPARTMENT" / name)
    OUTBOX#<uuid> / OUTBOX        events for the relay
Every change is one transaction with its outbox item; a failed condition maps to a domain error.
"""

from __future__ import annotations

from typing import Any

from shared import clock, dynamo, pagination
from shared.aws import client
from shared.contracts import Envelope
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events.outbox import outbox_put
from staff.domain import RETENTION_AFTER_DISMISSAL_SECONDS, Department, Employee, name_key
from staff.settings import get as settings

ACTIVE_DEPARTMENT = "attribute_exists(pk)"


def table() -> str:
    return settings().staff_table_name


# --- reading -------------------------------------------------------------------------------------


def _employee(item: dict[str, Any]) -> Employee:
    return Employee(
        employee_id=item["employee_id"],
        name=item["name"],
        email=item["email"],
        position=item.get("position", ""),
        department_id=item.get("department_id"),
        status=item.get("status", "active"),
        version=int(item["version"]),
        hired_at=item.get("hired_at", ""),
        dismissed_at=item.get("dismissed_at"),
    )


def _department(item: dict[str, Any]) -> Department:
    return Department(
        department_id=item["department_id"],
        name=item["name"],
        parent_id=item.get("parent_id"),
        head_id=item.get("head_id"),
        version=int(item["version"]),
        members=int(item.get("members", 0)),
        children=int(item.get("children", 0)),
    )


def get_employee(employee_id: str) -> Employee:
    item = dynamo.get(table(), f"EMPLOYEE#{employee_id}", "EMPLOYEE")
    if not item:
        raise NotFound(f"no employee {employee_id}")
    return _employee(item)


def find_active_by_email(email: str) -> Employee | None:
    claim = dynamo.get(table(), f"EMAIL#{email}", "EMAIL")
    return get_employee(claim["employee_id"]) if claim else None


def get_department(department_id: str) -> Department:
    item = dynamo.get(table(), f"DEPARTMENT#{department_id}", "DEPARTMENT")
    if not item:
        raise NotFound(f"no department {department_id}")
    return _department(item)


def parent_of(department_id: str) -> str | None:
    item = dynamo.get(table(), f"DEPARTMENT#{department_id}", "DEPARTMENT")
    return item.get("parent_id") if item else None


MAX_PAGES_PER_REQUEST = 20  # a filtered list reads on until the page is full, within bounds


def _query_index(
    kind: str,
    limit: int,
    cursor: str | None,
    filters: dict[str, tuple[str, Any]],
    names: dict[str, str] | None = None,
    ascending: bool = True,
) -> tuple[list[dict], str | None]:
    """Up to `limit` items of gsi1 for `kind` that pass `filters`. DynamoDB applies `Limit` before a
    filter, so one query can return few or none of the matches: read on until the page is full."""
    params: dict[str, Any] = {
        "TableName": table(),
        "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :kind",
        "ExpressionAttributeValues": {":kind": {"S": kind}},
        "ScanIndexForward": ascending,
    }
    if filters:
        params["FilterExpression"] = " AND ".join(expression for expression, _ in filters.values())
        params["ExpressionAttributeValues"].update(dynamo.to_item({k: v for k, (_, v) in filters.items()}))
    if names:
        params["ExpressionAttributeNames"] = names
    start = pagination.decode(cursor)
    items: list[dict] = []
    for _ in range(MAX_PAGES_PER_REQUEST):
        if start:
            params["ExclusiveStartKey"] = dynamo.to_item(start)
        page = client("dynamodb").query(**params, Limit=limit - len(items))
        items += [dynamo.from_item(i) for i in page.get("Items", [])]
        last = page.get("LastEvaluatedKey")
        start = dynamo.from_item(last) if last else None
        if not start or len(items) >= limit:
            break
    return items, pagination.encode(start)


def list_employees(
    limit: int,
    cursor: str | None,
    *,
    search: str | None,
    department_id: str | None,
    status: str | None,
    ascending: bool = True,
) -> tuple[list[Employee], str | None]:
    """By name, either way (R-UI-5). The search (any part of a name, email or position) and the filters
    are DynamoDB filters on the name index, read on for at most MAX_PAGES_PER_REQUEST pages a request:
    the cost of a request is bounded whatever the directory holds, and its cursor goes on from there."""
    filters: dict[str, tuple[str, Any]] = {}
    if search:
        filters[":q"] = ("contains(search_text, :q)", search.strip().lower())
    if department_id:
        filters[":d"] = ("department_id = :d", department_id)
    if status:
        filters[":s"] = ("#status = :s", status)
    names = {"#status": "status"} if status else None
    items, next_cursor = _query_index("EMPLOYEE", limit, cursor, filters, names, ascending)
    return [_employee(i) for i in items], next_cursor


def list_departments(limit: int, cursor: str | None) -> tuple[list[Department], str | None]:
    items, next_cursor = _query_index("DEPARTMENT", limit, cursor, {})
    return [_department(i) for i in items], next_cursor


# --- writing -------------------------------------------------------------------------------------


def _employee_item(employee: Employee) -> dict[str, Any]:
    item = {
        "pk": f"EMPLOYEE#{employee.employee_id}",
        "sk": "EMPLOYEE",
        "gsi1pk": "EMPLOYEE",
        "gsi1sk": f"{employee.name.lower()}#{employee.employee_id}",
        "search_text": f"{employee.name} {employee.email} {employee.position}".lower(),
        **employee.public(),
    }
    if employee.status == "dismissed":
        item["expires_at"] = clock.epoch_seconds() + RETENTION_AFTER_DISMISSAL_SECONDS
    return item


def _department_item(department: Department) -> dict[str, Any]:
    return {
        "pk": f"DEPARTMENT#{department.department_id}",
        "sk": "DEPARTMENT",
        "gsi1pk": "DEPARTMENT",
        "gsi1sk": f"{department.name.lower()}#{department.department_id}",
        **department.public(),
    }


def _email_claim(email: str, employee_id: str) -> dict[str, Any]:
    return dynamo.put(
        table(), {"pk": f"EMAIL#{email}", "sk": "EMAIL", "employee_id": employee_id},
        condition="attribute_not_exists(pk)",
    )  # fmt: skip


def department_name_claim(name: str, department_id: str) -> dict[str, Any]:
    """The put of a department name's claim (also the seed's, so seeded departments are claimed too)."""
    return dynamo.put(
        table(), {"pk": f"DEPTNAME#{name_key(name)}", "sk": "DEPTNAME", "department_id": department_id},
        condition="attribute_not_exists(pk)",
    )  # fmt: skip


def _release_name(name: str) -> dict[str, Any]:
    return dynamo.delete(table(), f"DEPTNAME#{name_key(name)}", "DEPTNAME")


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"There is already a department called {name!r} (names are compared without regard to capitals or spaces): "
        "choose another name, or use that department.",
        code="department_name_taken",
        details={"fields": [{"field": "name", "in": "body", "problem": "taken",
                             "message": f"A department called {name!r} already exists: choose another name."}]},
    )  # fmt: skip


def _count(department_id: str, field: str, delta: int) -> dict[str, Any]:
    """Adjust a department's member/children counter; adding requires the department to exist."""
    condition = ACTIVE_DEPARTMENT if delta > 0 else None
    return dynamo.update(
        table(), f"DEPARTMENT#{department_id}", "DEPARTMENT", f"ADD {field} :d", condition=condition,
        values={":d": delta},
    )  # fmt: skip


def _head_exists(head_id: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": table(),
            "Key": dynamo.key(f"EMPLOYEE#{head_id}", "EMPLOYEE"),
            "ConditionExpression": "attribute_exists(pk) AND #s = :active",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":active": {"S": "active"}},
        }
    }


def _email_taken(email: str) -> Conflict:
    return Conflict(f"{email} already belongs to an active employee", code="email_taken")


def _unknown_department(department_id: str) -> Unprocessable:
    return Unprocessable(f"no department {department_id}", code="unknown_department")


def _stale() -> Conflict:
    return Conflict("someone changed this in the meantime; reload and try again", code="stale")


def hire(employee: Employee, events: list[Envelope]) -> None:
    actions = [
        dynamo.put(table(), _employee_item(employee), condition="attribute_not_exists(pk)"),
        _email_claim(employee.email, employee.employee_id),
    ]
    failures: dict[int, Exception] = {1: _email_taken(employee.email)}
    if employee.department_id:
        failures[len(actions)] = _unknown_department(employee.department_id)
        actions.append(_count(employee.department_id, "members", 1))
    actions.append(outbox_put(table(), events))
    dynamo.transact(actions, failures)


def save_employee(before: Employee, after: Employee, events: list[Envelope]) -> None:
    """Edit, transfer or dismiss: the employee, the email claim and the counters move together."""
    actions = [
        dynamo.put(table(), _employee_item(after), condition="version = :v", values={":v": before.version}),
    ]
    failures: dict[int, Exception] = {0: _stale()}
    was_active, is_active = before.status == "active", after.status == "active"
    if was_active and (not is_active or after.email != before.email):
        actions.append(dynamo.delete(table(), f"EMAIL#{before.email}", "EMAIL"))
    if is_active and after.email != before.email:
        failures[len(actions)] = _email_taken(after.email)
        actions.append(_email_claim(after.email, after.employee_id))
    old_department = before.department_id if was_active else None
    new_department = after.department_id if is_active else None
    if old_department != new_department:
        if old_department:
            actions.append(_count(old_department, "members", -1))
        if new_department:
            failures[len(actions)] = _unknown_department(new_department)
            actions.append(_count(new_department, "members", 1))
    actions.append(outbox_put(table(), events))
    dynamo.transact(actions, failures)


def create_department(department: Department, events: list[Envelope]) -> None:
    actions = [
        dynamo.put(table(), _department_item(department), condition="attribute_not_exists(pk)"),
        department_name_claim(department.name, department.department_id),
    ]
    failures: dict[int, Exception] = {1: _name_taken(department.name)}
    if department.parent_id:
        failures[len(actions)] = _unknown_department(department.parent_id)
        actions.append(_count(department.parent_id, "children", 1))
    if department.head_id:
        failures[len(actions)] = Unprocessable(f"no active employee {department.head_id}", code="unknown_head")
        actions.append(_head_exists(department.head_id))
    actions.append(outbox_put(table(), events))
    dynamo.transact(actions, failures)


def save_department(before: Department, after: Department, events: list[Envelope]) -> None:
    """Rename, move or change the head; the counters are left as they are (ADD only touches counts)."""
    actions = [
        dynamo.update(
            table(), f"DEPARTMENT#{after.department_id}", "DEPARTMENT",
            "SET #n = :n, parent_id = :p, head_id = :h, version = :new, gsi1sk = :sort",
            condition="version = :v", names={"#n": "name"},
            values={":n": after.name, ":p": after.parent_id, ":h": after.head_id, ":new": after.version,
                    ":v": before.version, ":sort": f"{after.name.lower()}#{after.department_id}"},
        )
    ]  # fmt: skip
    failures: dict[int, Exception] = {0: _stale()}
    if name_key(before.name) != name_key(after.name):
        actions.append(_release_name(before.name))
        failures[len(actions)] = _name_taken(after.name)
        actions.append(department_name_claim(after.name, after.department_id))
    if before.parent_id != after.parent_id:
        if before.parent_id:
            actions.append(_count(before.parent_id, "children", -1))
        if after.parent_id:
            failures[len(actions)] = _unknown_department(after.parent_id)
            actions.append(_count(after.parent_id, "children", 1))
    if after.head_id and after.head_id != before.head_id:
        failures[len(actions)] = Unprocessable(f"no active employee {after.head_id}", code="unknown_head")
        actions.append(_head_exists(after.head_id))
    actions.append(outbox_put(table(), events))
    dynamo.transact(actions, failures)


def delete_department(department: Department, events: list[Envelope]) -> None:
    actions = [
        dynamo.delete(
            table(), f"DEPARTMENT#{department.department_id}", "DEPARTMENT",
            condition="(attribute_not_exists(members) OR members = :zero) "
            "AND (attribute_not_exists(children) OR children = :zero)",
            values={":zero": 0},
        )
    ]  # fmt: skip
    actions.append(_release_name(department.name))
    if department.parent_id:
        actions.append(_count(department.parent_id, "children", -1))
    actions.append(outbox_put(table(), events))
    dynamo.transact(
        actions,
        {0: Conflict("only an empty department can be deleted: move its members and sub-departments first",
                     code="department_not_empty")},
    )  # fmt: skip
