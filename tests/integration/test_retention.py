"""Data lifecycle (SPEC §10): how long each context keeps what, proven with the real handlers on tables of the
template's shape, and devstack's sweeper doing what DynamoDB's TTL does in AWS (deleting items whose TTL
attribute, the one the template names, is in the past; moto never does).

Time is driven, not waited for: the handlers run on a pinned clock, and the sweeper is run as of chosen
instants just before and just after each expiry.

| context    | keeps                                    | proven here                                           |
| tasks      | 1 month after completion (R-TASK-6)      | done task: expires_at = completion + 30 d; open: never |
| staff      | 1 year after dismissal                   | dismissed employee: dismissal + 365 d; active: never  |
| auth       | 1 year after deactivation                | inactive account: deactivation + 365 d; active: never |
| accounting | 1 year, balances forever (R-ACC-7)       | no TTL on balances or ledger; outbox/inbox/mail expire |
|            |                                          | (the ledger's year: test_accounting's R-ACC-7 test);  |
|            |                                          | a day's STATS# and DAY# items, and a task rewarded    |
|            |                                          | that day, expire a year after it; open tasks never    |
| analytics  | the analytics horizon (R-AN-5)           | the lake's lifecycle expiration = AnalyticsHorizonDays |
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from devstack.console import Console
from devstack.sweeper import Sweeper
from shared import clock
from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.staff import EmployeeDismissedV1, EmployeeHiredV1
from tests.events import deliver
from tests.integration.conftest import ROOT, api_event, call, template_table
from tests.integration.test_accounting import Ledger
from tests.integration.test_accounting import books as books  # the fixture: a fresh accounting table
from tests.integration.test_tasks_handlers import TasksWorld

DAY = 24 * 3600
YEAR = 365 * DAY
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}


class Clock:
    """The handlers' clock (`shared.clock`), pinned and moved by the test."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = START) -> None:
        self.now = start
        monkeypatch.setattr(clock, "now", lambda: self.now)
        monkeypatch.setattr(clock, "epoch_seconds", lambda: int(self.now.timestamp()))

    def epoch(self) -> int:
        return int(self.now.timestamp())

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Table:
    """A fresh table of one of the template's table resources, its TTL as the template declares it, and the
    devstack sweeper over it."""

    def __init__(self, provisioned: Any, logical_id: str, emulator: str) -> None:
        props = provisioned.properties(logical_id)
        self.name = template_table(provisioned, logical_id)
        ttl = props["TimeToLiveSpecification"]
        assert ttl["Enabled"] is True, f"{logical_id} declares no TTL"
        self.ttl = ttl["AttributeName"]
        client("dynamodb").update_time_to_live(TableName=self.name, TimeToLiveSpecification=ttl)
        self.emulator = emulator

    @classmethod
    def existing(cls, name: str, ttl: str, emulator: str) -> Table:
        table = cls.__new__(cls)
        table.name, table.ttl, table.emulator = name, ttl, emulator
        return table

    def sweep(self, at: int) -> int:
        """What the sweeper deletes as of epoch second `at`."""
        console = Console(ROOT / ".devstack" / "logs", out=io.StringIO(), quiet=True)  # the sweep logs nothing
        sweeper = Sweeper({self.name: self.ttl}, endpoint_url=self.emulator, console=console, clock=lambda: at)
        return sweeper.sweep()[self.name]

    def item(self, pk: str, sk: str) -> dict[str, Any] | None:
        from shared import dynamo

        found = client("dynamodb").get_item(TableName=self.name, Key=dynamo.key(pk, sk), ConsistentRead=True)
        return dynamo.from_item(found["Item"]) if "Item" in found else None

    def items(self, prefix: str = "") -> list[dict[str, Any]]:
        from shared import dynamo

        pages = client("dynamodb").get_paginator("scan").paginate(TableName=self.name, ConsistentRead=True)
        return [dynamo.from_item(i) for p in pages for i in p["Items"] if i["pk"]["S"].startswith(prefix)]


def use_table(monkeypatch, variable: str, table: Table, settings_module: Any) -> None:
    monkeypatch.setenv(variable, table.name)
    settings_module.get.cache_clear()


# --- tasks: one month after completion (R-TASK-6) -------------------------------------------------------


def test_tasks_a_completed_task_goes_30_days_after_completion_an_open_one_never(
    as_function, provisioned, emulator, monkeypatch
):
    as_function("TasksApiFunction")
    table = Table(provisioned, "TasksTable", emulator)
    from tasks import settings

    use_table(monkeypatch, "TASKS_TABLE_NAME", table, settings)
    now = Clock(monkeypatch)
    tasks = TasksWorld(table.name, provisioned)
    me = tasks.who(tasks.popug(["worker"]))
    open_task, done_task = tasks.create(me, "Stays open"), tasks.create(me, "Gets done")
    now.advance(days=3)
    assert tasks.request("POST", f"/tasks/{done_task['task_id']}/complete", who=me)[0] == 200
    completed = now.epoch()

    done = table.item(f"TASK#{done_task['task_id']}", "TASK")
    assert done[table.ttl] == completed + 30 * DAY
    assert table.ttl not in table.item(f"TASK#{open_task['task_id']}", "TASK")

    table.sweep(completed + 30 * DAY)
    assert table.item(f"TASK#{done_task['task_id']}", "TASK") is not None  # the 30th day is kept
    table.sweep(completed + 30 * DAY + 1)
    assert table.item(f"TASK#{done_task['task_id']}", "TASK") is None
    assert table.items(f"TASK#{done_task['task_id']}") == []  # its history (R-UI-4) went with it
    table.sweep(completed + 10 * YEAR)
    assert table.item(f"TASK#{open_task['task_id']}", "TASK") is not None
    assert [i["sk"].split("#")[-1] for i in table.items(f"TASK#{open_task['task_id']}") if i["sk"] != "TASK"] == [
        "created"
    ]  # an open task keeps its history
    assert table.items("OUTBOX#") == table.items("INBOX#") == []  # the event plumbing expires too


# --- staff: one year after dismissal -------------------------------------------------------------------


def test_staff_a_dismissed_employee_goes_a_year_after_dismissal_an_active_one_never(
    as_function, provisioned, emulator, monkeypatch
):
    as_function("StaffApiFunction")
    table = Table(provisioned, "StaffTable", emulator)
    from staff import api, settings

    use_table(monkeypatch, "STAFF_TABLE_NAME", table, settings)
    now = Clock(monkeypatch)

    def request(method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, answer = call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=ADMIN))
        assert status in (200, 201), answer
        return answer

    hire = {"position": "Seed sorter"}
    staying = request("POST", "/staff/employees", {**hire, "name": "Stays", "email": "stays@ates.example"})
    leaving = request("POST", "/staff/employees", {**hire, "name": "Leaves", "email": "leaves@ates.example"})
    now.advance(days=100)
    request("POST", f"/staff/employees/{leaving['employee_id']}/dismiss")
    dismissed = now.epoch()

    employee = table.item(f"EMPLOYEE#{leaving['employee_id']}", "EMPLOYEE")
    assert employee["status"] == "dismissed" and employee[table.ttl] == dismissed + YEAR
    assert table.ttl not in table.item(f"EMPLOYEE#{staying['employee_id']}", "EMPLOYEE")
    assert table.item("EMAIL#leaves@ates.example", "EMAIL") is None  # the email claim went at dismissal

    table.sweep(dismissed + YEAR)
    assert table.item(f"EMPLOYEE#{leaving['employee_id']}", "EMPLOYEE") is not None
    table.sweep(dismissed + YEAR + 1)
    assert table.item(f"EMPLOYEE#{leaving['employee_id']}", "EMPLOYEE") is None
    table.sweep(dismissed + 10 * YEAR)
    assert table.item(f"EMPLOYEE#{staying['employee_id']}", "EMPLOYEE") is not None
    assert table.item("EMAIL#stays@ates.example", "EMAIL") is not None
    assert table.items("OUTBOX#") == []


# --- auth: one year after deactivation -----------------------------------------------------------------


@pytest.fixture()
def auth(as_function, provisioned, emulator, monkeypatch):
    as_function("AuthOnEmployeeChangedFunction")
    from auth import on_employee_changed

    as_function("AuthApiFunction")
    from auth import api, settings

    table = Table(provisioned, "AuthTable", emulator)
    use_table(monkeypatch, "AUTH_TABLE_NAME", table, settings)
    now = Clock(monkeypatch)

    class Auth:
        def __init__(self) -> None:
            self.table, self.now, self.api = table, now, api

        def hire(self, name: str) -> str:
            employee_id = str(uuid.uuid4())
            event = EmployeeHiredV1(employee_id=employee_id, version=1, name=name, email=f"{name}@ates.example",
                                    position="Seed sorter", department_id=None)  # fmt: skip
            assert deliver(on_employee_changed.lambda_handler, REGISTRY.envelope(event)) == {"batchItemFailures": []}
            return employee_id

        def dismiss(self, employee_id: str) -> None:
            event = EmployeeDismissedV1(employee_id=employee_id, version=2, dismissed_at=self.now.now)
            assert deliver(on_employee_changed.lambda_handler, REGISTRY.envelope(event)) == {"batchItemFailures": []}

        def account(self, employee_id: str) -> dict[str, Any] | None:
            return table.item(f"ACCOUNT#{employee_id}", "ACCOUNT")

    return Auth()


def test_auth_an_account_goes_a_year_after_deactivation_an_active_one_never(auth):
    table, now = auth.table, auth.now
    staying, leaving = auth.hire("stays"), auth.hire("leaves")
    assert table.ttl not in auth.account(leaving)
    now.advance(days=100)
    auth.dismiss(leaving)
    deactivated = now.epoch()

    account = auth.account(leaving)
    assert account["active"] is False and account[table.ttl] == deactivated + YEAR
    assert table.ttl not in auth.account(staying)

    table.sweep(deactivated + YEAR)
    assert auth.account(leaving) is not None
    table.sweep(deactivated + YEAR + 1)
    assert auth.account(leaving) is None
    table.sweep(deactivated + 10 * YEAR)
    assert auth.account(staying) is not None
    assert table.item("EMAIL#stays@ates.example", "EMAIL") is not None
    # invitations, their mails, the event plumbing: all gone long before
    assert [i["pk"].split("#")[0] for i in table.items() if table.ttl in i] == []


def test_auth_a_later_write_does_not_extend_an_inactive_accounts_year(auth):
    leaving = auth.hire("leaves")
    auth.dismiss(leaving)
    deactivated = auth.now.epoch()
    auth.now.advance(days=180)
    roles = api_event("PUT", f"/api/auth/accounts/{leaving}/roles", body={"roles": ["worker", "manager"]}, caller=ADMIN)
    status, body = call(auth.api.lambda_handler, roles)
    assert status == 200, body
    assert auth.account(leaving)[auth.table.ttl] == deactivated + YEAR


# --- accounting: balances forever, the ledger a year, the plumbing briefly (R-ACC-7) -------------------------


def test_accounting_balances_and_the_ledger_never_expire_by_ttl_outbox_inbox_mail_do(
    books: Ledger, provisioned, emulator, monkeypatch
):
    from accounting import audit
    from accounting.store import MAIL_TTL_SECONDS
    from shared.events.consumer import INBOX_TTL_SECONDS
    from shared.events.outbox import OUTBOX_TTL_SECONDS

    monkeypatch.setattr(clock, "epoch_seconds", lambda: int(books.now.timestamp()))  # the Ledger pins clock.now
    ttl = provisioned.properties("AccountingTable")["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    table = Table.existing(books.table, ttl["AttributeName"], emulator)  # the fixture's fresh accounting table
    rich, poor = books.hire("Rich"), books.hire("Poor")
    books.task(rich, complete=True)
    books.task(poor)
    books.close(books.now.date())
    books.run_close(books.now.date())
    assert books.send_mail() == 1
    booked = int(books.now.timestamp())
    accounts = {p: books.me(p) for p in (rich, poor)}
    ledgers = {p: books.ledger(p) for p in (rich, poor)}
    events = books.delivered + books.events("TaskPriced")

    kinds: dict[str, set[Any]] = {}
    for item in table.items():
        kinds.setdefault(item["pk"].split("#")[0], set()).add(item.get(table.ttl))
    assert kinds["BALANCE"] == {None}, "a balance must never expire (R-ACC-7)"
    assert kinds["ACCOUNT"] == {None}, "ledger entries leave through the close's retention step, not by TTL"
    assert kinds["OUTBOX"] == {booked + OUTBOX_TTL_SECONDS}
    assert kinds["INBOX"] == {booked + INBOX_TTL_SECONDS}
    assert kinds["MAIL"] == {booked + MAIL_TTL_SECONDS}

    table.sweep(booked + OUTBOX_TTL_SECONDS + 1)
    assert table.items("OUTBOX#") == [] and table.items("INBOX#") and table.items("MAIL#")
    table.sweep(booked + 10 * YEAR)
    assert table.items("INBOX#") == table.items("MAIL#") == []
    assert {p: books.me(p) for p in (rich, poor)} == accounts
    assert {p: books.ledger(p) for p in (rich, poor)} == ledgers
    report = audit.run(events)
    assert report["ok"], report["problems"]


def test_accounting_a_days_statistics_and_close_and_its_rewarded_tasks_go_a_year_after_the_day(
    books: Ledger, provisioned, emulator, monkeypatch
):
    from tests.events import deliver

    ttl = provisioned.properties("AccountingTable")["TimeToLiveSpecification"]["AttributeName"]
    table = Table.existing(books.table, ttl, emulator)
    popug = books.hire("Kesha")
    done, still_open = books.task(popug, complete=True), books.task(popug)
    late = str(uuid.uuid4())  # its TaskCreated arrives after its completion (R-EV-3): the expiry stays
    books.consume(books.tasks_consumer, books.assigned(late, popug), books.completed(late, popug))
    assert deliver(books.tasks_consumer, books.created(late, "Late news")) == {"batchItemFailures": []}
    day = books.now.date()
    assert books.close(day)[0] == 202
    books.run_close(day)
    # the end of day + 365 in the business timezone (UTC here): when the close of that day lets the day's
    # ledger entries go (R-ACC-7); what is kept about the day goes with them
    year_on = int(datetime.combine(day + timedelta(days=366), time.min, UTC).timestamp())

    assert {table.item(f"TASK#{t}", "TASK").get(ttl) for t in (done, late)} == {year_on}
    assert table.item(f"TASK#{late}", "TASK")["title"] == "Late news"
    assert ttl not in table.item(f"TASK#{still_open}", "TASK"), "an open task is kept while open"
    stats = table.items("STATS#")
    assert stats and {i.get(ttl) for i in stats} == {year_on}
    assert sorted((i["sk"], i.get(ttl)) for i in table.items(f"DAY#{day}")) == [("DAY", year_on), ("TALLY", year_on)]
    balance, calendar = books.me(popug), table.item("CALENDAR", "CALENDAR")

    table.sweep(year_on)  # the last second of the year: everything is still there
    assert table.item(f"TASK#{done}", "TASK") and table.items("STATS#") and len(table.items("DAY#")) == 2
    table.sweep(year_on + 1)
    assert table.item(f"TASK#{done}", "TASK") is None and table.item(f"TASK#{late}", "TASK") is None
    assert table.items("STATS#") == [] and table.items("DAY#") == []
    table.sweep(year_on + 10 * YEAR)
    assert table.item(f"TASK#{still_open}", "TASK") is not None
    assert books.me(popug) == balance and table.item("CALENDAR", "CALENDAR") == calendar
    # the day still reads as closed, from the calendar, and closing it again pays nothing
    assert books.day(day)["status"] == "closed"
    assert books.close(day)[1]["status"] == "closed" and books.run_close(day) == []


# --- analytics: the analytics horizon (R-AN-5) --------------------------------------------------------------


@pytest.fixture(scope="module")
def short_horizon(fresh_emulator):
    """The template provisioned with AnalyticsHorizonDays=30 on an emulator of this module's own."""
    from devstack import provision, template

    stack = template.load(ROOT / "template.yaml", {"Stage": "local", "AnalyticsHorizonDays": "30"})
    return provision.provision(stack, fresh_emulator)


@pytest.mark.parametrize("horizon", ["default", "30"])
def test_analytics_the_lakes_objects_expire_at_the_analytics_horizon(provisioned, short_horizon, horizon):
    stack = provisioned if horizon == "default" else short_horizon
    days = int(stack.stack.parameters["AnalyticsHorizonDays"])
    assert days == (365 if horizon == "default" else 30)
    bucket = stack.properties("AnalyticsLakeBucket")
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and int(rule["ExpirationInDays"]) == days
    # backups of S3 need versioning; the versions a re-landing replaces expire too (SPEC §10)
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"]) <= days
    s3 = client("s3") if horizon == "default" else _s3(stack.endpoint_url)
    name = str(stack.resolver.ref("AnalyticsLakeBucket"))
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"


def test_analytics_the_provisioned_lake_bucket_carries_the_horizon_on_the_emulator(provisioned):
    name = str(provisioned.resolver.ref("AnalyticsLakeBucket"))
    rules = client("s3").get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    horizon = int(provisioned.stack.parameters["AnalyticsHorizonDays"])
    assert [r.get("Expiration", {}).get("Days") for r in rules] == [horizon]


def _s3(endpoint: str) -> Any:
    from devstack import aws

    return aws.client("s3", endpoint)
