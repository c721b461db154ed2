"""The seeded year as the contexts' own table items, built by the functions' own store code (`auth.store`,
`staff.store`, `tasks.store`, `accounting.store`), so an item's shape here cannot drift from what the
functions write. Each table's items go to a JSON-lines file (DynamoDB JSON), loaded by the emulator's bulk
loader (devstack.bulk_load). Where a store only has an update expression (statistics, a close's tally, the
calendar, the assignee pool) the item is the one that expression leaves behind, written out here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from devstack.seed.people import Company
from devstack.seed.year import Day, SeededTask, Year, iso


def encode(value: Any) -> dict[str, Any]:
    """One plain value as DynamoDB JSON (the ledger's million items: boto3's TypeSerializer is the slow part)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int):
        return {"N": str(value)}
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer().serialize(value)


def typed(item: dict[str, Any]) -> dict[str, Any]:
    """`shared.dynamo.to_item` (None values dropped), fast for strings and numbers."""
    return {name: encode(value) for name, value in item.items() if value is not None}


def put_item(action: dict[str, Any]) -> dict[str, Any]:
    """The item of a store's `Put` action (already DynamoDB JSON)."""
    return action["Put"]["Item"]


class TableFiles:
    """One JSON-lines file of items per table, appended to as the year is simulated."""

    def __init__(self, directory: Path, tables: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = {context: directory / f"{context}.jsonl" for context in tables}
        self.tables = tables
        self.counts = dict.fromkeys(tables, 0)
        self._files: dict[str, IO[str]] = {c: p.open("w") for c, p in self.paths.items()}

    def write(self, context: str, items: Iterable[dict[str, Any]]) -> None:
        lines = [json.dumps(i, separators=(",", ":")) + "\n" for i in items]
        self._files[context].writelines(lines)
        self.counts[context] += len(lines)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def ledger_item(tx: Any) -> dict[str, Any]:
    from accounting import store

    return typed(store._tx_item(tx))


# --- staff -------------------------------------------------------------------------------------------------


def staff_items(company: Company, hired_at: datetime) -> list[dict[str, Any]]:
    from staff import domain, store

    items = []
    for d in company.departments:
        department = domain.Department(d.department_id, d.name, d.parent_id, d.head_id, version=2 if d.head_id else 1,
                                       members=company.members(d.department_id),
                                       children=company.children(d.department_id))  # fmt: skip
        items += [
            typed(store._department_item(department)),
            put_item(store.department_name_claim(d.name, d.department_id)),
        ]
    for p in company.popugs:
        employee = domain.Employee(p.employee_id, p.name, p.email, p.position, p.department_id, "active", 1,
                                   iso(hired_at))  # fmt: skip
        items += [typed(store._employee_item(employee)), put_item(store._email_claim(p.email, p.employee_id))]
    return items


# --- auth --------------------------------------------------------------------------------------------------


def auth_account(p: Any, password_hash: str) -> Any:
    from auth.domain import Account

    # AccountCreated (version 1, worker), then AccountRolesChanged (2) when their roles are more than that
    version = 1 if p.roles == ("worker",) else 2
    return Account(account_id=p.employee_id, email=p.email, name=p.name, own_roles=tuple(sorted(p.own_roles)),
                   roles=p.roles, active=True, version=version, department_id=p.department_id, employee_version=1,
                   password_hash=password_hash, session_epoch=1)  # fmt: skip


def auth_items(company: Company, password_hash: str) -> list[dict[str, Any]]:
    from auth import store

    items = []
    for p in company.popugs:
        items += [put_item(a) for a in store.account_actions(None, auth_account(p, password_hash))]
    for department_id, roles in company.department_roles.items():
        items.append(put_item(store.department_roles_action(department_id, list(roles))))
    return items


# --- tasks -------------------------------------------------------------------------------------------------


def task_kept(task: SeededTask, now: datetime) -> bool:
    """R-TASK-6: open tasks stay, done ones 30 days after completion (TTL would have taken the others)."""
    from tasks.domain import RETENTION_AFTER_COMPLETION_SECONDS

    return task.completed_at is None or task.completed_at + timedelta(seconds=RETENTION_AFTER_COMPLETION_SECONDS) > now


def tasks_items(company: Company, year: Year, now: datetime, pool_before: set[str]) -> list[dict[str, Any]]:
    from tasks import domain, store

    items = []
    eligible = set(pool_before)
    for p in company.popugs:
        version = 1 if p.roles == ("worker",) else 2
        popug = domain.Popug(p.employee_id, version=version, roles=p.roles, active=True, rev=version)
        items.append(put_item(store.popug_actions(None, popug)[0]))
        if popug.eligible:
            eligible.add(p.employee_id)
    if eligible:
        rev = hashlib.sha256(",".join(sorted(eligible)).encode()).hexdigest()[:32]  # the same seed, the same items
        items.append(typed({"pk": store.POOL_KEY[0], "sk": store.POOL_KEY[1], "ids": eligible, store.POOL_REV: rev}))
    for task in year.tasks.values():
        if not task_kept(task, now):
            continue
        done = task.completed_at
        expires = int(done.timestamp()) + domain.RETENTION_AFTER_COMPLETION_SECONDS if done else None
        items.append(typed(store.task_item(domain.Task(
            task_id=task.task_id, title=task.title, jira_id=task.jira_id, description=task.description,
            due_date=None, status="done" if done else "open", assignee_id=task.assignee_id,
            created_by=task.created_by, created_at=iso(task.created_at), assigned_at=iso(task.assigned_at),
            completed_at=iso(done) if done else None, expires_at=expires, shuffled_by=task.shuffled_by,
            assign_fee=task.price.assign_fee, reward=task.price.reward,  # R-UI-4: as TaskPriced would have set it
        ))))  # fmt: skip
    return items


# --- accounting --------------------------------------------------------------------------------------------


def accounting_items(year: Year, timezone: str) -> list[dict[str, Any]]:
    """Accounts, task prices, statistics, closes and the calendar (the ledger is written as it is simulated)."""
    from accounting import domain, store

    items = [put_item(store.account_action(store.Versioned(a, None), a)) for a in year.accounts.values()]
    for task in year.tasks.values():
        info = domain.TaskInfo(task.task_id, task.price, task.title, task.jira_id, rev=2)
        if task.rewarded_day is not None:
            info = domain.rewarded(info, task.rewarded_day, timezone)
        items.append(put_item(store.task_action(None, info)))
    for day in [*year.days, year.open_day]:
        items += stats_items(day)
    for day in year.days:
        items += close_items(day)
    first, today = year.first_day.isoformat(), year.today.isoformat()
    # the calendar as the last close left it: every day before today closed, nothing let go yet (R-ACC-7)
    items.append(typed({"pk": store.CALENDAR_KEY[0], "sk": store.CALENDAR_KEY[1], "first_day": first,
                        "next_open": today, "retained_from": first}))  # fmt: skip
    return items


def stats_items(day: Day) -> list[dict[str, Any]]:
    """STATS#<shard> / <date>: what `transaction_actions`' ADD leaves for the day's fees and rewards."""
    from accounting import store

    expires = store._retained_until(day.day.isoformat())
    return [
        typed({"pk": f"STATS#{shard}", "sk": day.day.isoformat(), "fees": day.fees.get(shard, 0),
               "rewards": day.rewards.get(shard, 0), "transactions": day.counted[shard], "expires_at": expires})
        for shard in sorted(day.counted)
    ]  # fmt: skip


def close_items(day: Day) -> list[dict[str, Any]]:
    """DAY#<date> / DAY as a finished close leaves it, and its TALLY (every payout email queued and sent)."""
    from accounting import domain, store

    started, finished = iso(day.closed_at), iso(day.closed_at + timedelta(seconds=5))
    job = domain.DayClose(
        business_day=day.day.isoformat(), status="closed", phase="closed", step=4, total=day.accounts,
        close_through=day.day.isoformat(), correlation_id=day.correlation_id, started_at=started,
        started_by="schedule", updated_at=finished, fees=sum(day.fees.values()), rewards=sum(day.rewards.values()),
        popugs_paid=day.popugs_paid, total_paid=day.total_paid, popugs_in_red=day.popugs_in_red,
    )  # fmt: skip
    close = {**store._close_item(job), "finished_at": finished}
    tally = {"pk": f"DAY#{day.day.isoformat()}", "sk": "TALLY", "business_day": day.day.isoformat(),
             "expires_at": store._retained_until(day.day.isoformat()), "done": day.accounts,
             "popugs_paid": day.popugs_paid, "total_paid": day.total_paid, "popugs_in_red": day.popugs_in_red,
             "emails_queued": day.popugs_paid, "emails_sent": day.popugs_paid}  # fmt: skip
    return [typed(close), typed(tally)]
