"""The real tasks and accounting handlers, in process on the emulator, with the delivery misbehaving; each
operation is also told to the reference model (tests/model/reference.py), which checks every answer and,
at the end, every ledger, balance, payout and email.

What runs for real: the tasks API (create, complete, shuffle press), the shuffle job's steps, the tasks
pool consumer, the outbox relay (`shared.events.relay`, fed INSERT records of the table's new OUTBOX items,
as its stream filter would), accounting's two consumers, the close request (API), the close job's steps and
the payout mailer (fed the MAIL items' INSERT records), each on fresh tables of the template's shape.

What is played here, and how it misbehaves (one `random.Random(seed)` decides every misbehaviour; the
product's own choices, assignees and prices, come from rngs seeded from it too, though ids are random, so a
replay is close but not always identical; the model never depends on those choices, it checks them):
- EventBridge, at the PutEvents boundary (faster than moto's bus -> SQS, and it lets the relay crash):
  a call may fail as a whole, fail some entries (the relay retries, then reports the stream record so the
  batch is re-read from there), or publish everything and then kill the relay's process (`LambdaCrash`,
  which no `except Exception` catches), so the same stream records are relayed again: the relay crashing
  between write and publish, and between publish and checkpoint.
- The bus delivers every event to each consumer's queue twice (at least once, R-EV-3).
- SQS + the Lambda poller: messages are taken in random order and random batches, and lag (a tick delivers
  a random part of the queue), so task events cross each other, day closes and shuffles. A message may
  fail its first attempt before the handler runs, or AFTER its write committed (the function died before
  reporting): reported in `batchItemFailures`, it comes back, as SQS would bring it back.
- Upstream events (staff, auth: not §5/§6) are injected as envelopes, each twice, and applied before the
  next operation (so the model knows who is eligible when a task is assigned); they suffer the same
  transient failures, and old ones come back late at random, when a newer version is applied.
- Job streams: a close or shuffle step's stream record is sometimes delivered twice (the second run must
  find itself stale).

When an event is applied for the first time (its first attempt that got through the handler) the model is
told `event_booked`, so the model decides the business day from its own calendar (R-ACC-2); later
deliveries are not told: booking them again is exactly what de-duplication must prevent.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

from shared.aws import client
from tests.integration.conftest import LambdaContext, api_event, call
from tests.integration.test_tasks_shuffle import stream_record
from tests.model.reference import Email, Entry, ExpectedEvent, ModelViolation, Reference, canonical

MANAGER = {"sub": str(uuid.uuid4()), "roles": "manager", "department_id": "", "active": "true"}
ADMIN = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}
MAX_RECEIVES = 6  # more attempts than the chaos ever fails one message: a 7th means a real failure
MAX_INVOCATIONS = 200  # per drain: far more than any example needs; more means the delivery loops


class TransientFault(Exception):
    """An injected, passing failure (a throttle, a timeout): the next attempt works."""


class LambdaCrash(BaseException):
    """The function's process died here: nothing after it runs, the event source retries the batch."""


def worker(employee_id: str) -> dict[str, str]:
    return {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}


@dataclass
class Chaos:
    """How often each misbehaviour happens; one seeded rng decides each time."""

    rng: random.Random
    fail_before: float = 0.15  # a message's first attempt fails before the handler runs
    fail_after: float = 0.15  # ... or after its write committed
    bus_down: float = 0.1  # a PutEvents call fails as a whole
    bus_partial: float = 0.2  # a PutEvents call fails some of its entries
    relay_crash: float = 0.15  # the relay publishes, then dies before the stream checkpoint
    step_twice: float = 0.3  # a job's stream record delivered twice
    mail_fault: float = 0.2  # SES throttles a bulk send once
    stale_upstream: float = 0.3  # an old staff/auth event redelivered late

    def happens(self, probability: float) -> bool:
        return self.rng.random() < probability


class Clock:
    """`shared.clock` pinned to the model's day: each reading is 1 ms later (so 'created before the
    shuffle started' is well defined), and `midnight` moves to noon of the next day."""

    def __init__(self, day: date) -> None:
        self.moment = datetime.combine(day, time(12), tzinfo=UTC)

    def now(self) -> datetime:
        self.moment += timedelta(milliseconds=1)
        return self.moment

    def epoch_seconds(self) -> int:
        return int(self.moment.timestamp())

    def midnight(self) -> None:
        self.moment = datetime.combine(self.moment.date() + timedelta(days=1), time(12), tzinfo=UTC)


# --- SQS and the Lambda poller -------------------------------------------------------------------------


@dataclass
class Message:
    message_id: str
    body: dict[str, Any]
    event_id: str
    receives: int = 0
    fail_before: bool = False
    fail_after: bool = False
    errors: list[str] = field(default_factory=list)


class Queue:
    """One consumer's queue and poller: random order, random batches, transient failures, redelivery of
    what the handler reports failed. `on_applied(event_id)` hears of each event's first application."""

    def __init__(self, name: str, consumer: Any, chaos: Chaos, on_applied: Callable[[str], None] | None = None):
        self.name, self.consumer, self.chaos = name, consumer, chaos
        self.on_applied = on_applied or (lambda event_id: None)
        self.waiting: list[Message] = []
        self.applied: set[str] = set()
        self.sent: list[dict[str, Any]] = []  # every EventBridge event ever sent here (for late redelivery)

    def send(self, event: dict[str, Any]) -> None:
        self.sent.append(event)
        chaos = self.chaos
        self.waiting.append(Message(
            str(uuid.uuid4()), event, event["detail"]["event_id"], fail_before=chaos.happens(chaos.fail_before),
            fail_after=chaos.happens(chaos.fail_after),
        ))  # fmt: skip

    def deliver(self, limit: int | None = None) -> None:
        """One poll: up to `limit` messages (all by default) in random order and batches of 1..10."""
        rng = self.chaos.rng
        rng.shuffle(self.waiting)
        count = len(self.waiting) if limit is None else min(limit, len(self.waiting))
        taken, self.waiting = self.waiting[:count], self.waiting[count:]
        while taken:
            size = rng.randint(1, 10)
            batch, taken = taken[:size], taken[size:]
            self.waiting += self._invoke(batch)

    def drain(self) -> None:
        for _ in range(MAX_INVOCATIONS):
            if not self.waiting:
                return
            self.deliver()
        raise AssertionError(f"{self.name}: the queue never emptied: {[m.errors for m in self.waiting]}")

    def _invoke(self, batch: list[Message]) -> list[Message]:
        by_id = {m.message_id: m for m in batch}
        for m in batch:
            m.receives += 1
            if m.receives > MAX_RECEIVES:
                raise AssertionError(f"{self.name}: event {m.event_id} would be dead-lettered: {m.errors}")
        real = type(self.consumer).handle_record

        def flaky(record: Any) -> None:
            message = by_id[record.message_id]
            if message.fail_before:
                message.fail_before = False
                raise TransientFault("injected before the handler")
            try:
                real(self.consumer, record)
            except Exception as error:
                message.errors.append(f"{type(error).__name__}: {error}")
                raise
            if message.event_id not in self.applied:
                self.applied.add(message.event_id)
                self.on_applied(message.event_id)
            if message.fail_after:
                message.fail_after = False
                raise TransientFault("injected after the write committed")

        together = type(self.consumer).apply_together

        def flaky_together(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            """The batch path: a record due to fail before its handler is left to the single path, where
            `flaky` fails it; one due to fail after its write is applied together, then failed there too."""
            due = [r for r in records if by_id[r["messageId"]].fail_before]
            left = together(self.consumer, [r for r in records if r not in due])
            for record in (r for r in records if r not in due and r not in left):
                message = by_id[record["messageId"]]
                if message.event_id not in self.applied:
                    self.applied.add(message.event_id)
                    self.on_applied(message.event_id)
                if message.fail_after:
                    left.append(record)  # applied before: the single path acknowledges it, and `flaky` fails it
            return due + left

        records = [_sqs_record(m) for m in batch]
        # instance attributes: they shadow the methods for this call only
        self.consumer.handle_record, self.consumer.apply_together = flaky, flaky_together
        try:
            result = self.consumer({"Records": records}, None)
        finally:
            del self.consumer.handle_record, self.consumer.apply_together
        return [by_id[f["itemIdentifier"]] for f in result["batchItemFailures"]]


def _sqs_record(message: Message) -> dict[str, Any]:
    return {
        "messageId": message.message_id, "receiptHandle": message.message_id, "body": json.dumps(message.body),
        "attributes": {"ApproximateReceiveCount": str(message.receives)}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }  # fmt: skip


def bridge_event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge hands a target (moto's shape: no `account`)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "time": detail["event_time"], "region": "us-east-1", "resources": [], "detail": detail}  # fmt: skip


# --- EventBridge at the PutEvents boundary, and the relay's stream ---------------------------------------


class Bus:
    """`client("events")` for the relay: publishes to the routed queues (each event twice), misbehaving."""

    def __init__(self, chaos: Chaos, routes: dict[str, Queue], on_published: Callable[[dict[str, Any]], None]):
        self.chaos, self.routes, self.on_published = chaos, routes, on_published

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self.chaos.happens(self.chaos.bus_down):
            raise TransientFault("PutEvents throttled")
        partial = self.chaos.happens(self.chaos.bus_partial)
        results = []
        for entry in Entries:
            if partial and self.chaos.happens(0.5):
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
                continue
            detail = json.loads(entry["Detail"])
            self.on_published(detail)
            queue = self.routes.get(entry["Source"])
            if queue is not None:
                for _ in range(2):
                    queue.send(bridge_event(entry["Source"], entry["DetailType"], detail))
            results.append({"EventId": str(uuid.uuid4())})
        if self.chaos.happens(self.chaos.relay_crash):
            raise LambdaCrash("the relay died after PutEvents, before its stream checkpoint")
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


class RelayStream:
    """The relay's stream event source: each new OUTBOX item of `table` is one INSERT record; a crashed
    invocation gets the same batch again, a reported failure resumes from that record."""

    def __init__(self, table: str, chaos: Chaos) -> None:
        from shared.events import relay

        self.table, self.chaos, self.handler = table, chaos, relay.lambda_handler
        self.relayed: set[str] = set()
        self.pending: list[dict[str, Any]] = []
        self.sequence = 0

    def run(self) -> None:
        fresh = [i for i in scan(self.table, "OUTBOX#") if i["pk"]["S"] not in self.relayed]
        for item in sorted(fresh, key=lambda i: i["created_at"]["S"]):
            self.sequence += 1
            self.relayed.add(item["pk"]["S"])
            self.pending.append(stream_record(item, self.sequence, "INSERT"))
        for _ in range(MAX_INVOCATIONS):
            if not self.pending:
                return
            size = self.chaos.rng.randint(1, 4)
            batch = self.pending[:size]
            try:
                result = self.handler({"Records": batch}, LambdaContext())
            except LambdaCrash:
                continue  # the whole batch again
            self.pending = self.pending[size:]
            if result["batchItemFailures"]:
                first = int(result["batchItemFailures"][0]["itemIdentifier"])
                retry = [r for r in batch if int(r["dynamodb"]["SequenceNumber"]) >= first]
                self.pending = retry + self.pending
        raise AssertionError("the relay never got its outbox published")


def scan(table: str, prefix: str = "") -> list[dict[str, Any]]:
    """The items whose pk starts with `prefix` (all of them without one), as DynamoDB returns them."""
    params: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    if prefix:
        params.update(FilterExpression="begins_with(pk, :p)", ExpressionAttributeValues={":p": {"S": prefix}})
    return [i for page in client("dynamodb").get_paginator("scan").paginate(**params) for i in page["Items"]]


# --- SES at the mailer's boundary ------------------------------------------------------------------------


class Mailbox:
    """`client("ses")` for the mailer: records each payout email, then sends it on the emulator; a bulk send
    may be throttled once (before anything is sent)."""

    def __init__(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self.emails: list[Email] = []

    def send_bulk_templated_email(self, **request: Any) -> dict[str, Any]:
        if self.chaos.happens(self.chaos.mail_fault):
            raise TransientFault("SES throttled")
        for destination in request["Destinations"]:
            data = json.loads(destination["ReplacementTemplateData"])
            [to] = destination["Destination"]["ToAddresses"]
            day = date.fromisoformat(data["business_day"])
            self.emails.append(Email(to, day, cents(data["amount"]), data["count"]))
        return client("ses").send_bulk_templated_email(**request)


def cents(money: str) -> int:
    """'$1,234.05' -> 123405 (the email's own format)."""
    sign = -1 if money.startswith("-") else 1
    dollars, _, pennies = money.lstrip("-$").replace(",", "").partition(".")
    return sign * (int(dollars) * 100 + int(pennies))


# --- the world ----------------------------------------------------------------------------------------------


ROLE_SETS = (
    ("worker",), ("worker", "manager"), ("worker", "admin"), ("worker", "accountant"), ("accountant",), (),
)  # fmt: skip


class World:
    """One example's aTES (fresh tasks and accounting tables) and its reference model, in lock step.

    The process-wide patches (`relay.client`, `send_payout_mail.client`, `shared.clock`) point at
    `World.current`, so a test patches once and each example swaps in its own world."""

    current: World | None = None

    def __init__(self, tasks_table: str, accounting_table: str, seed: int, day: date) -> None:
        from accounting import on_employee_changed, on_task_event
        from tasks import on_account_changed

        self.tasks_table, self.accounting_table = tasks_table, accounting_table
        self.chaos = Chaos(random.Random(seed))
        self.clock = Clock(day)
        self.model = Reference(today=day)
        from tasks import api, shuffle_job

        # The product's chance (prices, assignees), seeded per example; `install` restores the real ones.
        on_task_event.rng, api.rng, shuffle_job.rng = (random.Random(seed + n) for n in (1, 2, 3))
        self.task_events = Queue("accounting.on_task_event", on_task_event.lambda_handler, self.chaos,
                                 self.model.event_booked)  # fmt: skip
        self.staff_events = Queue("accounting.on_employee_changed", on_employee_changed.lambda_handler, self.chaos)
        self.account_events = Queue("tasks.on_account_changed", on_account_changed.lambda_handler, self.chaos)
        self.bus = Bus(self.chaos, {"ates.tasks": self.task_events}, self._published)
        self.relay = RelayStream(tasks_table, self.chaos)
        self.mailbox = Mailbox(self.chaos)
        self.mailed: set[str] = set()
        self.versions: Counter[tuple[str, str]] = Counter()  # (context, popug) -> its entity version
        self.popugs: list[str] = []
        self.tasks: list[str] = []
        World.current = self
        from accounting import daily_close

        # The schedule's first run: accounting starts its calendar on the model's first day (R-ACC-5).
        assert daily_close.lambda_handler({}, LambdaContext())["closing"] is None

    # --- people: upstream events, injected ---------------------------------------------------------------
    def _upstream(self, queue: Queue, source: str, model: Any) -> None:
        from shared.contracts import REGISTRY

        envelope = REGISTRY.envelope(model).model_dump(mode="json")
        for _ in range(2):  # at least once: twice, like every other event here
            queue.send(bridge_event(source, envelope["event_name"], envelope))
        queue.drain()

    def _version(self, context: str, popug: str) -> int:
        self.versions[(context, popug)] += 1
        return self.versions[(context, popug)]

    def _staff(self, popug: str, model_type: Any, **fields: Any) -> Any:
        return model_type(employee_id=popug, version=self._version("staff", popug), **fields)

    def _auth(self, popug: str, model_type: Any) -> Any:
        state = self.model.popugs[popug]
        return model_type(account_id=popug, version=self._version("auth", popug), roles=sorted(state.roles),
                          active=state.active)  # fmt: skip

    def hire(self) -> None:
        from shared.contracts.auth import AccountCreatedV1
        from shared.contracts.staff import EmployeeHiredV1

        popug = str(uuid.uuid4())
        email = f"p{len(self.popugs) + 1}-{popug[:8]}@ates.example"
        self.popugs.append(popug)
        label = self.model.hire(popug, email).label
        self._upstream(self.staff_events, "ates.staff", self._staff(
            popug, EmployeeHiredV1, name=label, email=email, position="parrot", department_id=None))  # fmt: skip
        self._upstream(self.account_events, "ates.auth", self._auth(popug, AccountCreatedV1))

    def set_roles(self, who: int, roles: tuple[str, ...]) -> None:
        from shared.contracts.auth import AccountRolesChangedV1

        popug = self.popugs[who % len(self.popugs)]
        self.model.set_roles(popug, frozenset(roles))
        self._upstream(self.account_events, "ates.auth", self._auth(popug, AccountRolesChangedV1))

    def change_email(self, who: int) -> None:
        from shared.contracts.staff import EmployeeUpdatedV1

        popug = self.popugs[who % len(self.popugs)]
        email = f"new-{uuid.uuid4().hex[:8]}@ates.example"
        self.model.change_email(popug, email)
        self._upstream(self.staff_events, "ates.staff", self._staff(
            popug, EmployeeUpdatedV1, name=self.model.popugs[popug].label, email=email, position="parrot",
            department_id=None))  # fmt: skip

    def dismiss(self, who: int) -> None:
        from shared.contracts.auth import AccountRolesChangedV1
        from shared.contracts.staff import EmployeeDismissedV1

        popug = self.popugs[who % len(self.popugs)]
        if self.model.popugs[popug].dismissed:
            return  # staff dismisses an employee once
        self.model.dismiss(popug)
        dismissed = self._staff(popug, EmployeeDismissedV1, dismissed_at=self.clock.moment)
        self._upstream(self.staff_events, "ates.staff", dismissed)
        self._upstream(self.account_events, "ates.staff", dismissed)
        self._upstream(self.account_events, "ates.auth", self._auth(popug, AccountRolesChangedV1))  # R-AUTH-4

    # --- tasks: the real API and job ----------------------------------------------------------------------
    def _tasks_api(self, method: str, path: str, who: dict[str, str], body: Any = None) -> tuple[int, dict]:
        from tasks import api

        return call(api.lambda_handler, api_event(method, f"/api{path}", body=body, caller=who))

    def create_task(self) -> None:
        status, body = self._tasks_api("POST", "/tasks", MANAGER, {"title": f"Task {len(self.tasks) + 1}"})
        task_id, assignee = body.get("task_id"), body.get("assignee_id")
        self.model.create_task(status, _code(body), task_id, assignee)
        if status == 201:
            self.tasks.append(task_id)

    def complete(self, which: int, by_assignee: bool) -> None:
        if not self.tasks:
            return
        task_id = self.tasks[which % len(self.tasks)]
        holder = self.model.tasks[task_id].assignee
        others = [p for p in self.popugs if p != holder and not self.model.popugs[p].dismissed]
        caller = holder if by_assignee else (others[which % len(others)] if others else None)
        if caller is None or self.model.popugs[caller].dismissed:
            return  # a dismissed popug cannot sign in (R-AUTH-4): nobody to ask
        status, body = self._tasks_api("POST", f"/tasks/{task_id}/complete", worker(caller))
        self.model.complete(task_id, caller, status, _code(body))

    def shuffle(self) -> None:
        from tasks import shuffle_job, store

        status, body = self._tasks_api("POST", "/tasks/shuffle", MANAGER)
        if status != 202:
            self.model.shuffle(status, _code(body), None)
            return
        job_id = body["job_id"]
        for _ in range(MAX_INVOCATIONS):
            job = store.get_job(job_id)
            if job is None or job.status != "running":
                break
            shuffle_job.run_step(job, chunk=3)  # small steps: several per example
            if self.chaos.happens(self.chaos.step_twice):
                assert shuffle_job.run_step(job, chunk=3) == "stale", "a duplicate shuffle step did work"
        assert job is not None and job.status == "done", f"shuffle {job_id} ended {job}"
        moved = [e["data"] for e in self._outbox(self.tasks_table, "TaskAssigned") if e["correlation_id"] == job_id]
        twice = [task for task, n in Counter(d["task_id"] for d in moved).items() if n > 1]
        if twice:
            raise ModelViolation(f"R-TASK-3: one shuffle reassigned {[self.model.task_label(t) for t in twice]} twice")
        self.model.shuffle(status, None, {d["task_id"]: d["assignee_id"] for d in moved})

    @staticmethod
    def _outbox(table: str, name: str) -> list[dict[str, Any]]:
        events = (e for item in scan(table, "OUTBOX#") for e in json.loads(item["events"]["S"]))
        return [e for e in events if e["event_name"] == name]

    def _published(self, detail: dict[str, Any]) -> None:
        data = detail["data"]
        event = ExpectedEvent(detail["event_name"], data["task_id"], data.get("assignee_id"), data.get("reason"))
        self.model.published_event(detail["event_id"], event)

    # --- accounting: the close ----------------------------------------------------------------------------
    def midnight(self) -> None:
        self.clock.midnight()
        self.model.new_day()

    def _accounting_api(self, method: str, path: str) -> tuple[int, dict]:
        from accounting import api

        return call(api.lambda_handler, api_event(method, f"/api{path}", caller=ADMIN))

    def close(self) -> None:
        from accounting import close_job, store

        day = self.model.calendar.next_open
        status, body = self._accounting_api("POST", f"/accounting/days/{day}/close")
        refusal = self.model.close_refusal()
        if refusal:
            self.model.expect((status, _code(body)), (409, refusal), f"R-ACC-5 close {day} before it began")
            return
        self.model.expect((status, body.get("status")), (202, "closing"), f"R-ACC-5 close {day}")
        self.model.close_started()
        for _ in range(MAX_INVOCATIONS):
            self.task_events.deliver(self.chaos.rng.randint(0, 3))  # task events keep arriving meanwhile
            job = store.get_close(day.isoformat())
            if job is None or job.status != "closing":
                break
            close_job.run_step(job, chunk=2)  # two accounts a step: a few steps per close
            if self.chaos.happens(self.chaos.step_twice):
                assert close_job.run_step(job, chunk=2) == "stale", "a duplicate close step did work"
        items = scan(self.accounting_table)  # one read for both: the prices announced, the mails queued
        self.sync_prices([_plain(i) for i in items if i["pk"]["S"].startswith("OUTBOX#")])
        expected = self.model.close_finished()
        self.send_mail([i for i in items if i["pk"]["S"].startswith("MAIL#")])
        status, closed = self._accounting_api("GET", f"/accounting/days/{day}")
        got = (closed["status"], closed["popugs_paid"], closed["total_paid"], closed["popugs_in_red"])
        self.model.expect(got, ("closed", *astuple(expected)), f"R-ACC-5 the close of {day}")
        if self.chaos.happens(0.15):  # closing it again pays nothing and mails nothing
            again = self._accounting_api("POST", f"/accounting/days/{day}/close")
            self.model.expect((again[0], again[1].get("status")), (202, "closed"), f"R-ACC-5 close {day} again")
            self.send_mail()

    def send_mail(self, mails: list[dict[str, Any]] | None = None) -> None:
        """The mailer's stream: each new MAIL item one INSERT record; a failure resumes from its record."""
        from accounting import send_payout_mail

        mails = scan(self.accounting_table, "MAIL#") if mails is None else mails
        fresh = [i for i in mails if i["pk"]["S"] not in self.mailed]
        self.mailed |= {i["pk"]["S"] for i in fresh}
        pending = [{"eventName": "INSERT", "dynamodb": {"NewImage": i, "SequenceNumber": str(n)}}
                   for n, i in enumerate(fresh)]  # fmt: skip
        for _ in range(MAX_INVOCATIONS):
            if not pending:
                return
            result = send_payout_mail.lambda_handler({"Records": pending}, LambdaContext())
            failed = [int(f["itemIdentifier"]) for f in result["batchItemFailures"]]
            pending = [r for r in pending if failed and int(r["dynamodb"]["SequenceNumber"]) >= min(failed)]
        raise AssertionError("the payout mails never went out")

    def sync_prices(self, outbox: list[dict[str, Any]] | None = None) -> None:
        """What accounting announced in TaskPriced (R-ACC-1), told to the model; once per task."""
        items = outbox if outbox is not None else [_plain(i) for i in scan(self.accounting_table, "OUTBOX#")]
        priced = Counter()
        for event in (e for item in items for e in json.loads(item["events"])):
            if event["event_name"] != "TaskPriced":
                continue
            data = event["data"]
            priced[data["task_id"]] += 1
            self.model.observe_price(data["task_id"], data["assign_fee"], data["reward"])
        twice = [self.model.task_label(t) for t, n in priced.items() if n > 1]
        if twice:
            raise ModelViolation(f"R-ACC-1: {twice} priced more than once")

    # --- time passing between operations ------------------------------------------------------------------
    def tick(self) -> None:
        """Between operations: the relay may run, part of the task events may arrive, an old upstream
        event may come back."""
        if self.chaos.happens(0.4):
            self.relay.run()
        self.task_events.deliver(self.chaos.rng.randint(0, len(self.task_events.waiting)))
        if self.chaos.happens(self.chaos.stale_upstream):
            queue = self.chaos.rng.choice([self.staff_events, self.account_events])
            if queue.sent:
                queue.send(self.chaos.rng.choice(queue.sent))
                queue.drain()

    def settle(self) -> None:
        """Everything in flight arrives: the relay publishes the rest of the outbox, the queue retries until
        it is empty (accounting writes nothing that tasks' relay would publish, so once is enough)."""
        self.relay.run()
        self.task_events.drain()

    # --- the verdict ----------------------------------------------------------------------------------------
    def check(self) -> None:
        """Every ledger, balance, payout and email is the model's, and every balance is its ledger's sum."""
        self.settle()
        if self.model.unpublished():
            raise ModelViolation(f"R-EV-2: caused but never published: {self.model.unpublished()}")
        accounts, ledgers, outbox = self._books()
        self.sync_prices(outbox)
        for popug in self.popugs:
            label, account, txs = self.model.popugs[popug].label, accounts[popug], ledgers.get(popug, [])
            running = account["opening"]
            for tx in txs:
                running += tx["amount"]
                if tx["balance_after"] != running:
                    raise ModelViolation(
                        f"R-ACC-2: {label}'s entry {tx['seq']} says {tx['balance_after']}, not {running}"
                    )
            if account["balance"] != running:
                raise ModelViolation(f"R-ACC-2: {label}'s balance {account['balance']} != opening + ledger = {running}")
            got, expected = canonical([_entry(tx) for tx in txs]), self.model.ledger(popug)
            if got != expected:
                raise ModelViolation(_ledger_diff(self.model, label, got, expected))
            if account["balance"] != self.model.balance(popug):
                raise ModelViolation(f"{label}: balance {account['balance']}, the model {self.model.balance(popug)}")
        if Counter(self.mailbox.emails) != Counter(self.model.emails):
            raise ModelViolation(
                f"R-ACC-5 payout emails: sent {sorted(self.mailbox.emails, key=repr)}, "
                f"expected {sorted(self.model.emails, key=repr)}"
            )

    def _books(self) -> tuple[dict[str, dict], dict[str, list[dict]], list[dict[str, Any]]]:
        """The accounting table in one consistent scan (cheaper than two reads per popug): accounts
        (BALANCE#), each ledger in its order (ACCOUNT#<id> / TX#<seq>) and the outbox items."""
        from shared import dynamo

        items = [dynamo.from_item(i) for i in scan(self.accounting_table)]
        accounts = {i["employee_id"]: i for i in items if i["pk"].startswith("BALANCE#")}
        ledgers: dict[str, list[dict]] = {}
        for tx in sorted((i for i in items if i["sk"].startswith("TX#")), key=lambda i: i["sk"]):
            ledgers.setdefault(tx["employee_id"], []).append(tx)
        return accounts, ledgers, [i for i in items if i["pk"].startswith("OUTBOX#")]


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from shared import dynamo

    return dynamo.from_item(item)


def _code(body: dict[str, Any]) -> str | None:
    return (body.get("error") or {}).get("code")


def _entry(tx: dict[str, Any]) -> Entry:
    why = None
    if tx["kind"] == "fee":  # the reason a user reads says which assignment the fee is for
        why = "shuffle" if "reassigned by a shuffle" in tx["reason"] else "created"
    return Entry(tx["kind"], tx["amount"], tx.get("task_id"), date.fromisoformat(tx["business_day"]), why)


def _ledger_diff(model: Reference, label: str, got: list[Entry], expected: list[Entry]) -> str:
    extra = list((Counter(got) - Counter(expected)).elements())
    missing = list((Counter(expected) - Counter(got)).elements())
    return (
        f"{label}'s ledger differs from the model's (R-ACC-2..5):\n"
        f"  booked but not expected: {model.describe(canonical(extra))}\n"
        f"  expected but not booked: {model.describe(canonical(missing))}\n"
        f"  the whole ledger: {model.describe(got)}"
    )


def install(monkeypatch: Any) -> None:
    """Point the process-wide seams at `World.current`: the clock, the relay's EventBridge client (and its
    retry pauses: nothing waits in a test), the mailer's SES client."""
    from accounting import on_task_event, send_payout_mail
    from shared import clock
    from shared.events import relay
    from tasks import api, shuffle_job

    for module in (on_task_event, api, shuffle_job):
        monkeypatch.setattr(module, "rng", module.rng)  # each world seeds its own; the real one comes back

    def current() -> World:
        assert World.current is not None, "no world: build one first"
        return World.current

    monkeypatch.setattr(clock, "now", lambda: current().clock.now())
    monkeypatch.setattr(clock, "epoch_seconds", lambda: current().clock.epoch_seconds())
    monkeypatch.setattr(relay, "client", lambda service: current().bus if service == "events" else client(service))
    monkeypatch.setattr(relay, "time", SimpleNamespace(sleep=lambda seconds: None))
    monkeypatch.setattr(
        send_payout_mail, "client", lambda service: current().mailbox if service == "ses" else client(service)
    )


def run(world: World, operations: Iterable[Any]) -> None:
    """Apply each operation to the product and the model, with time passing after each; then the verdict."""
    for operation in operations:
        operation.apply(world)
        world.tick()
    world.check()
