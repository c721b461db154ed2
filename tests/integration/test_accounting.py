"""Accounting on the emulator (SPEC §6): the real handlers on a fresh table of the template's shape.

Prices (R-ACC-1), fees and rewards booked once whatever the order and redelivery (R-ACC-2..4), the day's
close with its payouts, emails and carried debts, exactly once per popug per day even when closes race
or crash (R-ACC-5), what admins, accountants and workers may see (R-ACC-6), and retention (R-ACC-7).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from shared import clock
from shared.aws import client
from shared.contracts import REGISTRY, Envelope
from shared.contracts.staff import EmployeeDismissedV1, EmployeeHiredV1
from shared.contracts.tasks import TaskAssignedV1, TaskCompletedV1, TaskCreatedV1, TaskCreatedV2
from tests.events import bridge, deliver, sqs_event
from tests.integration.conftest import LambdaContext, api_event, call, template_table

ADMIN = {"sub": str(uuid.uuid4()), "roles": "admin", "department_id": "", "active": "true"}
ACCOUNTANT = {"sub": str(uuid.uuid4()), "roles": "accountant", "department_id": "", "active": "true"}
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TODAY = NOON.date()


def worker(employee_id: str) -> dict[str, str]:
    return {"sub": employee_id, "roles": "worker", "department_id": "", "active": "true"}


class Ledger:
    """The accounting context on a fresh table, with the clock pinned (moved by `at`)."""

    def __init__(self, table: str, monkeypatch: pytest.MonkeyPatch) -> None:
        from accounting import api, close_job, on_employee_changed, on_task_event, send_payout_mail

        self.table = table
        self.api, self.job, self.mailer = api, close_job, send_payout_mail
        self.tasks_consumer = on_task_event.lambda_handler
        self.staff_consumer = on_employee_changed.lambda_handler
        on_task_event.rng = random.Random(7)
        self.delivered: list[dict[str, Any]] = []  # every event consumed, as the audit's event source
        self.now = NOON
        monkeypatch.setattr(clock, "now", lambda: self.now)

    # --- events in ---------------------------------------------------------------------------------
    def consume(self, handler: Any, *envelopes: Envelope) -> None:
        assert deliver(handler, *envelopes) == {"batchItemFailures": []}
        self.delivered += [e.model_dump(mode="json") for e in envelopes]

    def audit(self) -> dict[str, Any]:
        from accounting import audit

        return audit.run(self.delivered + self.events("TaskPriced"))

    def hire(self, name: str = "Popug", version: int = 1, employee_id: str | None = None) -> str:
        employee_id = employee_id or str(uuid.uuid4())
        email = f"{name.lower()}@ates.example"
        event = EmployeeHiredV1(employee_id=employee_id, version=version, name=name, email=email, position="parrot",
                                department_id=None)  # fmt: skip
        self.consume(self.staff_consumer, REGISTRY.envelope(event))
        return employee_id

    def created(self, task_id: str, title: str = "Feed the parrots", jira_id: str | None = "UP-1") -> Envelope:
        return REGISTRY.envelope(TaskCreatedV2(task_id=task_id, title=title, jira_id=jira_id, description="",
                                               due_date=None, created_by=ADMIN["sub"]))  # fmt: skip

    def assigned(self, task_id: str, assignee: str, reason: str = "created") -> Envelope:
        return REGISTRY.envelope(TaskAssignedV1(task_id=task_id, assignee_id=assignee, reason=reason))

    def completed(self, task_id: str, assignee: str) -> Envelope:
        return REGISTRY.envelope(TaskCompletedV1(task_id=task_id, assignee_id=assignee))

    def task(self, assignee: str, *, complete: bool = False, title: str = "Feed the parrots") -> str:
        task_id = str(uuid.uuid4())
        self.consume(self.tasks_consumer, self.created(task_id, title), self.assigned(task_id, assignee))
        if complete:
            self.consume(self.tasks_consumer, self.completed(task_id, assignee))
        return task_id

    # --- the API -------------------------------------------------------------------------------------
    def get(self, path: str, who: dict[str, str], query: dict[str, str] | None = None) -> tuple[int, dict]:
        return call(self.api.lambda_handler, api_event("GET", f"/api{path}", caller=who, query=query))

    def post(self, path: str, who: dict[str, str]) -> tuple[int, dict]:
        return call(self.api.lambda_handler, api_event("POST", f"/api{path}", caller=who))

    def me(self, employee_id: str) -> dict:
        status, body = self.get("/accounting/me", worker(employee_id))
        assert status == 200, body
        return body

    def ledger(self, employee_id: str) -> list[dict]:
        status, body = self.get("/accounting/me/transactions", worker(employee_id), {"limit": "100"})
        assert status == 200, body
        return body["items"]

    # --- the close -----------------------------------------------------------------------------------
    def close(self, day: date, who: dict[str, str] = ADMIN) -> tuple[int, dict]:
        return self.post(f"/accounting/days/{day.isoformat()}/close", who)

    def day(self, day: date) -> dict:
        status, body = self.get(f"/accounting/days/{day.isoformat()}", ADMIN)
        assert status == 200, body
        return body

    def run_close(self, day: date, chunk: int = 7, limit: int = 200) -> list[str]:
        """Drive the job the way its stream does: one step per recorded progress, until it is closed."""
        from accounting import store

        outcomes = []
        for _ in range(limit):
            job = store.get_close(day.isoformat())
            if job is None or job.status != "closing":
                return outcomes
            outcomes.append(self.job.run_step(job, chunk=chunk))
        raise AssertionError(f"the close did not finish in {limit} steps: {outcomes[-5:]}")

    def send_mail(self) -> int:
        """The mailer's event source: every queued MAIL item, as INSERT records."""
        items = self.scan("MAIL#")
        queued = [i for i in items if i["status"]["S"] == "queued"]
        records = [{"eventName": "INSERT", "dynamodb": {"NewImage": i, "SequenceNumber": str(n)}}
                   for n, i in enumerate(queued)]  # fmt: skip
        if records:
            assert self.mailer.lambda_handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}
        return len(queued)

    # --- what is stored ------------------------------------------------------------------------------
    def scan(self, prefix: str) -> list[dict[str, Any]]:
        pages = client("dynamodb").get_paginator("scan").paginate(
            TableName=self.table, ConsistentRead=True, FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": prefix}},
        )  # fmt: skip
        return [i for page in pages for i in page["Items"]]

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for item in self.scan("OUTBOX#"):
            found += [e for e in json.loads(item["events"]["S"]) if e["event_name"] == name]
        return found


@pytest.fixture()
def books(as_function, provisioned, monkeypatch) -> Ledger:
    as_function("AccountingPayoutMailerFunction")  # SES sender and template
    as_function("AccountingApiFunction")
    table = template_table(provisioned, "AccountingTable")
    monkeypatch.setenv("ACCOUNTING_TABLE_NAME", table)
    from accounting import settings

    settings.get.cache_clear()
    return Ledger(table, monkeypatch)


def consume_concurrently(books: Ledger, consumers: list[list[list[Envelope]]]) -> list[BaseException]:
    """One thread per consumer, each delivering its batches in turn to the task events' consumer, all at
    once; the errors they met."""
    errors: list[BaseException] = []

    def consume(batches: list[list[Envelope]]) -> None:
        try:
            for batch in batches:
                books.consume(books.tasks_consumer, *batch)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=consume, args=(batches,)) for batches in consumers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def assert_books_balance(books: Ledger, *employee_ids: str) -> None:
    """R-ACC-2: balance = opening + sum of the ledger, and each balance_after follows from the one before."""
    from accounting import store

    for employee_id in employee_ids:
        account = store.get_account(employee_id).account
        txs = list(store.all_transactions(employee_id))
        assert account.balance == account.opening + sum(t.amount for t in txs)
        running = account.opening
        for tx in txs:
            running += tx.amount
            assert tx.balance_after == running


# --- prices and booking (R-ACC-1..4) -----------------------------------------------------------------


def test_r_acc_1_a_task_is_priced_once_by_whichever_event_comes_first(books):
    popug = books.hire("Kesha")
    task_id = str(uuid.uuid4())
    # The assignment arrives before the task, the completion before the creation (R-EV-3).
    books.consume(books.tasks_consumer, books.assigned(task_id, popug))
    books.consume(books.tasks_consumer, books.completed(task_id, popug))
    books.consume(books.tasks_consumer, books.created(task_id, "Polish the perch", "UP-7"))
    priced = books.events("TaskPriced")
    assert len(priced) == 1
    fee, reward = priced[0]["data"]["assign_fee"], priced[0]["data"]["reward"]
    assert 1000 <= fee <= 2000 and 2000 <= reward <= 4000
    ledger = books.ledger(popug)
    assert [(t["kind"], t["amount"]) for t in ledger] == [("reward", reward), ("fee", -fee)]
    # Booked before TaskCreated arrived, the transactions still show the task's title and jira id.
    assert {t["task"]["title"] for t in ledger} == {"Polish the perch"}
    assert {t["task"]["jira_id"] for t in ledger} == {"UP-7"}
    assert books.me(popug)["balance"] == reward - fee


def test_r_acc_3_each_assignment_is_charged_exactly_once_whatever_the_redelivery(books):
    kesha, gosha = books.hire("Kesha"), books.hire("Gosha")
    task_id = str(uuid.uuid4())
    created, first = books.created(task_id), books.assigned(task_id, kesha)
    shuffled = books.assigned(task_id, gosha, "shuffle")
    for _ in range(3):  # every event delivered three times, in one batch and across batches
        books.consume(books.tasks_consumer, first, created, first, shuffled)
    fee = books.events("TaskPriced")[0]["data"]["assign_fee"]
    assert [t["amount"] for t in books.ledger(kesha)] == [-fee]
    assert [t["amount"] for t in books.ledger(gosha)] == [-fee]
    assert "shuffle" in books.ledger(gosha)[0]["reason"]
    assert len(books.events("TransactionRecorded")) == 2


def test_r_acc_4_a_completion_is_rewarded_once_to_the_assignee(books):
    popug = books.hire()
    task_id = books.task(popug, complete=True)
    books.consume(books.tasks_consumer, books.completed(task_id, popug))  # redelivered with a new event id too
    rewards = [t for t in books.ledger(popug) if t["kind"] == "reward"]
    assert len(rewards) == 1 and rewards[0]["task_id"] == task_id


def test_r_acc_2_concurrent_fees_for_one_popug_keep_the_ledger_whole(books):
    popug = books.hire()
    tasks = [str(uuid.uuid4()) for _ in range(16)]
    deliveries = [[[books.assigned(task_id, popug)] for task_id in tasks[i::4]] for i in range(4)]
    assert not consume_concurrently(books, deliveries)
    ledger = books.ledger(popug)
    assert len(ledger) == 16 and {t["task_id"] for t in ledger} == set(tasks)
    assert_books_balance(books, popug)


class Calls:
    """Counts the DynamoDB calls this process makes, per operation."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts[model.name] = self.counts.get(model.name, 0) + 1

    def __enter__(self) -> Calls:
        client("dynamodb").meta.events.register("before-call.dynamodb", self)
        return self

    def __exit__(self, *exc: object) -> None:
        client("dynamodb").meta.events.unregister("before-call.dynamodb", self)


def test_a_batch_of_task_events_is_booked_together_as_if_one_at_a_time(books):
    """A queue's batch (here 10 events: creations, assignments, a shuffle, a completion, for three popugs)
    is read in one BatchGetItem and booked in one transaction, with what booking them one by one gives:
    each fee and reward once, balance_after chained in delivery order, the day's statistics summed."""
    starter = books.task(books.hire("Starter"))  # the books' calendar has started (the very first booking starts it)
    kesha, gosha, rita = books.hire("Kesha"), books.hire("Gosha"), books.hire("Rita")
    first, second, third = (str(uuid.uuid4()) for _ in range(3))
    batch = [
        books.created(first), books.assigned(first, kesha), books.created(second), books.assigned(second, kesha),
        books.assigned(third, gosha), books.assigned(first, rita, "shuffle"), books.created(third),
        books.completed(first, rita), books.assigned(second, gosha, "shuffle"), books.completed(second, gosha),
    ]  # fmt: skip
    with Calls() as calls:
        books.consume(books.tasks_consumer, *batch)
    assert (calls.counts.get("BatchGetItem"), calls.counts.get("TransactWriteItems")) == (1, 1)
    assert set(calls.counts) == {"BatchGetItem", "TransactWriteItems"}

    prices = {e["data"]["task_id"]: e["data"] for e in books.events("TaskPriced")}
    assert set(prices) == {starter, first, second, third}  # each priced once, by its first event
    fee, reward = (lambda t: prices[t]["assign_fee"]), (lambda t: prices[t]["reward"])

    def booked(popug: str) -> list[tuple[str, int]]:
        return [(t["task_id"], t["amount"]) for t in reversed(books.ledger(popug))]  # oldest first

    assert booked(kesha) == [(first, -fee(first)), (second, -fee(second))]
    assert booked(gosha) == [(third, -fee(third)), (second, -fee(second)), (second, reward(second))]
    assert booked(rita) == [(first, -fee(first)), (first, reward(first))]
    assert_books_balance(books, kesha, gosha, rita)
    reasons = [t["reason"] for t in reversed(books.ledger(gosha))]  # as they were known at each event
    assert reasons[0].startswith(f"assigned task {third}") and "[UP-1] Feed the parrots" in reasons[1]
    recorded = books.events("TransactionRecorded")
    assert len(recorded) == 8 and len(books.scan("OUTBOX#")) == 2  # the batch's events in one outbox item
    stats = books.get("/accounting/stats", ADMIN, {"from": TODAY.isoformat(), "to": TODAY.isoformat()})[1]
    [today] = stats["items"]
    fees = fee(starter) + fee(first) * 2 + fee(second) * 2 + fee(third)
    assert (today["fees"], today["rewards"]) == (fees, reward(first) + reward(second))
    assert books.audit()["ok"]

    with Calls() as calls:  # the same batch again: every event was applied before, nothing changes
        books.consume(books.tasks_consumer, *batch)
    assert len(books.events("TransactionRecorded")) == 8
    assert_books_balance(books, kesha, gosha, rita)


def test_a_poison_event_in_a_batch_fails_alone_and_the_rest_is_booked(books, monkeypatch):
    from accounting import on_task_event

    popug = books.hire()
    poison, good, later = (str(uuid.uuid4()) for _ in range(3))
    real = on_task_event.Books.book

    def book(self: Any, envelope: Envelope, data: Any, kind: str) -> None:
        if str(data.task_id) == poison:
            raise ValueError("a bug this event triggers")
        real(self, envelope, data, kind)

    monkeypatch.setattr(on_task_event.Books, "book", book)
    batch = sqs_event(*(bridge(books.assigned(t, popug)) for t in (good, poison, later)))
    answer = books.tasks_consumer(batch, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    assert sorted(t["task_id"] for t in books.ledger(popug)) == sorted([good, later])
    assert_books_balance(books, popug)


def test_r_acc_2_concurrent_batches_for_the_same_popugs_book_everything_once(books):
    """Two consumers booking batches for the same accounts at once: one transaction wins, the other applies
    its whole batch again from fresh reads; nothing is lost or booked twice."""
    popugs = [books.hire(name) for name in ("Kesha", "Gosha")]
    batches = [[books.assigned(str(uuid.uuid4()), popugs[(b + i) % 2]) for i in range(6)] for b in range(6)]
    assert not consume_concurrently(books, [batches[i::3] for i in range(3)])
    assert sum(len(books.ledger(p)) for p in popugs) == 36
    assert_books_balance(books, *popugs)


def test_staff_events_name_the_popug_newest_version_wins_and_dismissal_keeps_the_balance(books):
    popug = books.hire("Kesha", version=2)
    books.hire("Old name", version=1, employee_id=popug)  # late and old: ignored
    books.task(popug)
    books.consume(books.staff_consumer, REGISTRY.envelope(
        EmployeeDismissedV1(employee_id=popug, version=3, dismissed_at=NOON)))  # fmt: skip
    me = books.me(popug)
    assert me["name"] == "Kesha" and me["dismissed"] is True and me["balance"] < 0


def test_task_created_v1_is_read_through_its_upcast(books):
    popug = books.hire()
    task_id = str(uuid.uuid4())
    v1 = REGISTRY.envelope(TaskCreatedV1(task_id=task_id, title="[UP-9] Sweep the cage", description="",
                                         created_by=ADMIN["sub"]))  # fmt: skip
    books.consume(books.tasks_consumer, v1, books.assigned(task_id, popug))
    task = books.ledger(popug)[0]["task"]
    assert (task["jira_id"], task["title"]) == ("UP-9", "Sweep the cage")


# --- the close (R-ACC-5) ------------------------------------------------------------------------------


def three_popugs(books: Ledger) -> tuple[str, str, str]:
    """One in profit (a reward beats any fee), one in debt, one at zero."""
    rich, poor, idle = books.hire("Rich"), books.hire("Poor"), books.hire("Idle")
    books.task(rich, complete=True)
    books.task(poor)
    return rich, poor, idle


def test_r_acc_5_close_pays_positive_balances_emails_them_and_carries_debts(books, emulator):
    from devstack import emulator as emulator_module

    rich, poor, idle = three_popugs(books)
    owed, debt = books.me(rich)["balance"], books.me(poor)["balance"]
    assert owed > 0 > debt
    status, body = books.close(TODAY)
    assert status == 202 and body["status"] == "closing"
    books.run_close(TODAY)
    day = books.day(TODAY)
    assert (day["status"], day["popugs_paid"], day["total_paid"], day["popugs_in_red"]) == ("closed", 1, owed, 1)
    assert day["total"] == 3 and day["done"] == 3 and day["next_open_day"] == (TODAY + timedelta(days=1)).isoformat()
    assert books.me(rich)["balance"] == 0 and books.me(poor)["balance"] == debt and books.me(idle)["balance"] == 0
    payout = books.ledger(rich)[0]
    assert (payout["kind"], payout["amount"], payout["balance_after"]) == ("payout", -owed, 0)
    closed = books.events("DayClosed")
    payouts = [e for e in books.events("TransactionRecorded") if e["data"]["kind"] == "payout"]
    # The close request's correlation id follows its payouts and DayClosed (one journey per close).
    assert {e["correlation_id"] for e in [*closed, *payouts]} == {closed[0]["correlation_id"]}
    assert [e["data"] for e in closed] == [{"business_day": TODAY.isoformat(), "popugs_paid": 1, "total_paid": owed,
                                            "popugs_in_red": 1}]  # fmt: skip

    before = len(emulator_module.sent_emails(emulator))
    assert books.send_mail() == 1
    sent = emulator_module.sent_emails(emulator)[before:]
    assert [m["to"] for m in sent] == [["rich@ates.example"]]
    amount = f"${owed // 100}.{owed % 100:02d}"
    assert amount in sent[0]["subject"] and "Feed the parrots" in sent[0]["body"]["text"]
    assert books.day(TODAY)["emails_sent"] == 1

    # Closing the same day again pays nothing more and queues no email.
    status, body = books.close(TODAY)
    assert status == 202 and body["status"] == "closed"
    assert books.run_close(TODAY) == []
    assert books.send_mail() == 0
    assert [t["kind"] for t in books.ledger(rich)].count("payout") == 1
    assert_books_balance(books, rich, poor, idle)


def test_r_acc_5_two_closes_at_once_pay_each_popug_once(books):
    popugs = [books.hire(f"P{i}") for i in range(12)]
    for popug in popugs:
        books.task(popug, complete=True)
    answers: list[tuple[int, dict]] = []
    starters = [threading.Thread(target=lambda: answers.append(books.close(TODAY))) for _ in range(2)]
    for t in starters:
        t.start()
    for t in starters:
        t.join()
    assert [s for s, _ in answers] == [202, 202]
    # Two runners drive the same steps concurrently (a duplicate stream delivery, or a nudge racing a retry).
    runners = [threading.Thread(target=books.run_close, args=(TODAY, 5)) for _ in range(2)]
    for t in runners:
        t.start()
    for t in runners:
        t.join()
    day = books.day(TODAY)
    assert day["status"] == "closed" and day["popugs_paid"] == 12
    for popug in popugs:
        assert [t["kind"] for t in books.ledger(popug)].count("payout") == 1
        assert books.me(popug)["balance"] == 0
    assert len(books.events("DayClosed")) == 1
    assert books.send_mail() == sum(len(json.loads(i["destinations"]["S"])) > 0 for i in books.scan("MAIL#"))
    assert books.day(TODAY)["emails_sent"] == 12


def test_r_acc_5_a_close_that_crashes_half_way_and_runs_again_pays_once(books, monkeypatch):
    from shared import dynamo

    popugs = [books.hire(f"P{i}") for i in range(25)]
    for popug in popugs:
        books.task(popug, complete=True)
    assert books.close(TODAY)[0] == 202
    real = dynamo.transact
    commits = {"n": 0}

    def crash_after_two(actions, failures=None):
        if commits["n"] == 2:
            raise RuntimeError("the function died here")
        commits["n"] += 1
        return real(actions, failures)

    monkeypatch.setattr(dynamo, "transact", crash_after_two)
    with pytest.raises(RuntimeError):
        books.run_close(TODAY, chunk=25)  # count, then one pay batch of 10, then death
    monkeypatch.setattr(dynamo, "transact", real)
    books.run_close(TODAY, chunk=25)
    day = books.day(TODAY)
    assert (day["status"], day["popugs_paid"], day["done"]) == ("closed", 25, 25)
    for popug in popugs:
        assert [t["kind"] for t in books.ledger(popug)].count("payout") == 1
    assert sum(len(json.loads(i["destinations"]["S"])) for i in books.scan("MAIL#")) == 25


def test_r_acc_2_what_is_booked_while_a_day_closes_belongs_to_the_next_day(books):
    popug = books.hire()
    books.task(popug, complete=True)
    owed = books.me(popug)["balance"]
    assert books.close(TODAY)[0] == 202
    late = books.task(popug)  # booked after the close began, before the job reached the popug
    books.run_close(TODAY)
    ledger = books.ledger(popug)
    fee = next(t for t in ledger if t["task_id"] == late and t["kind"] == "fee")
    payout = next(t for t in ledger if t["kind"] == "payout")
    assert fee["business_day"] == (TODAY + timedelta(days=1)).isoformat()
    assert payout["amount"] == -owed and payout["business_day"] == TODAY.isoformat()  # the day's balance, not today's
    assert books.me(popug)["balance"] == fee["amount"]
    assert_books_balance(books, popug)


def test_r_acc_5_days_close_in_order_and_never_in_the_future(books):
    books.hire()
    books.task(books.hire(), complete=True)  # the system's first day is TODAY
    tomorrow = TODAY + timedelta(days=1)
    status, body = books.close(tomorrow)
    assert (status, body["error"]["code"]) == (409, "future_day")
    status, body = books.close(TODAY - timedelta(days=1))
    assert (status, body["error"]["code"]) == (409, "before_first_day")
    books.now = NOON + timedelta(days=2)
    status, body = books.close(tomorrow)
    assert (status, body["error"]["code"]) == (409, "previous_day_open")
    assert TODAY.isoformat() in body["error"]["message"]


def test_r_acc_5_the_schedule_closes_every_open_day_up_to_yesterday(books):
    from accounting import daily_close

    popug = books.hire()
    books.task(popug, complete=True)
    books.now = NOON + timedelta(days=3)  # the stack was down for two nights
    result = daily_close.lambda_handler({}, LambdaContext())
    assert result["closing"] == TODAY.isoformat()
    books.run_close(TODAY)
    for offset in (1, 2):
        books.run_close(TODAY + timedelta(days=offset))
    assert [books.day(TODAY + timedelta(days=n))["status"] for n in range(4)] == ["closed"] * 3 + ["open"]
    assert books.me(popug)["balance"] == 0
    assert daily_close.lambda_handler({}, LambdaContext())["closing"] is None


# --- who sees what (R-ACC-6) and bad input --------------------------------------------------------------


def test_r_acc_6_roles_decide_whose_money_one_sees(books):
    kesha, gosha = books.hire("Kesha"), books.hire("Gosha")
    books.task(kesha)
    status, body = books.get(f"/accounting/accounts/{gosha}/transactions", worker(kesha))
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert books.get(f"/accounting/accounts/{kesha}/transactions", worker(kesha))[0] == 200
    assert books.get("/accounting/accounts", worker(kesha))[0] == 403
    status, body = books.get("/accounting/accounts", ACCOUNTANT)
    assert status == 200 and [a["name"] for a in body["items"]] == ["Gosha", "Kesha"]
    assert books.get(f"/accounting/accounts/{kesha}/transactions", ACCOUNTANT)[0] == 200
    assert books.close(TODAY, ACCOUNTANT)[0] == 403
    assert books.get(f"/accounting/days/{TODAY}", worker(kesha))[0] == 403


def test_r_acc_6_stats_per_day_with_management_earnings(books):
    rich, poor, _ = three_popugs(books)
    fees = -sum(t["amount"] for p in (rich, poor) for t in books.ledger(p) if t["kind"] == "fee")
    rewards = sum(t["amount"] for t in books.ledger(rich) if t["kind"] == "reward")
    books.close(TODAY)
    books.run_close(TODAY)
    around = {"from": (TODAY - timedelta(days=1)).isoformat(), "to": (TODAY + timedelta(days=1)).isoformat()}
    status, body = books.get("/accounting/stats", ACCOUNTANT, around)
    assert status == 200
    yesterday, today, tomorrow = body["items"]
    paid = -books.ledger(rich)[0]["amount"]
    assert today == {
        "date": TODAY.isoformat(), "status": "closed", "management_earnings": fees - rewards, "fees": fees,
        "rewards": rewards, "payouts": paid, "popugs_paid": 1, "popugs_in_red": 1,
    }  # fmt: skip
    assert yesterday["fees"] == 0 and tomorrow["status"] == "open" and tomorrow["popugs_in_red"] is None
    assert body["totals"]["management_earnings"] == fees - rewards


def test_r_acc_6_a_closed_days_figures_are_kept_on_its_close_and_read_from_there(books, monkeypatch):
    """Nothing is booked to a day once its close started, so the close keeps the day's figures: the
    statistics of a closed day are one item, not 16 shards and a tally (30 days of a year-old stack cost what
    a fresh stack's 30 days cost: bench/year_routes.py)."""
    from accounting import store

    rich, poor, _ = three_popugs(books)
    fees = -sum(t["amount"] for p in (rich, poor) for t in books.ledger(p) if t["kind"] == "fee")
    rewards = sum(t["amount"] for t in books.ledger(rich) if t["kind"] == "reward")
    books.close(TODAY)
    books.run_close(TODAY)
    close = store.closes([TODAY.isoformat()])[TODAY.isoformat()]
    assert (close.fees, close.rewards) == (fees, rewards)
    shards_read: list[list[date]] = []
    shards, tallies = store.stats_of, store.closes
    monkeypatch.setattr(store, "stats_of", lambda days: shards_read.append(days) or shards(days))
    monkeypatch.setattr(store, "closes", lambda days: pytest.fail(f"tallies read for {days}") or tallies(days))
    monkeypatch.setattr(store, "_shard_range", lambda *days: pytest.fail("an open day's shards read by 16 Queries"))
    tomorrow = TODAY + timedelta(days=1)
    status, body = books.get("/accounting/stats", ACCOUNTANT, {"from": TODAY.isoformat(), "to": tomorrow.isoformat()})
    assert status == 200 and (body["items"][0]["fees"], body["items"][0]["rewards"]) == (fees, rewards)
    assert shards_read == [[tomorrow]]  # the open day only, in one BatchGetItem
    books.task(poor)  # booked to the next open day, not to the closed one
    status, again = books.get("/accounting/stats", ACCOUNTANT, {"from": TODAY.isoformat(), "to": tomorrow.isoformat()})
    assert again["items"][0] == body["items"][0] and again["items"][1]["fees"] > body["items"][1]["fees"]


def test_r_acc_6_many_open_days_are_summed_from_the_shards_as_one_day_is(books):
    """Up to six days' shard items are one BatchGetItem; more days, one Query per shard over their range:
    the same sums either way."""
    from accounting import store

    three_popugs(books)
    week = [TODAY + timedelta(days=k) for k in range(-3, 5)]
    assert len(week) > store.BATCHED_DAYS
    one = store.stats_of([TODAY])
    assert one[TODAY.isoformat()]["fees"] > 0
    assert store.stats_of(week) == one == store.stats_of(week[2:5])


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("/accounting/stats", {"from": "2026-13-01", "to": "2026-12-01"}, "invalid_date"),
        ("/accounting/stats", {"from": "27.11.2026", "to": "2026-12-01"}, "invalid_date"),
        ("/accounting/stats", {"from": "2025-01-01", "to": "2026-01-02"}, "invalid_range"),
        ("/accounting/stats", {"from": "2026-12-02", "to": "2026-12-01"}, "invalid_range"),
        ("/accounting/days/2026-02-30", None, "invalid_date"),
        ("/accounting/days/yesterday", None, "invalid_date"),
    ],
)
def test_bad_dates_and_ranges_are_422_and_change_nothing(books, path, query, code):
    status, body = books.get(path, ADMIN, query)
    assert (status, body["error"]["code"]) == (422, code)
    status, body = books.post("/accounting/days/27-11-2026/close", ADMIN)
    assert (status, body["error"]["code"]) == (422, "invalid_date")
    assert books.scan("CALENDAR") == []


# --- retention (R-ACC-7) ------------------------------------------------------------------------------


def test_r_acc_7_year_old_transactions_go_into_the_opening_amount_and_balances_stay(books):
    from accounting import store

    popug = books.hire()
    year_ago = NOON - timedelta(days=370)
    books.now = year_ago
    books.task(popug)  # the system's first day is 370 days ago
    old_fee = books.ledger(popug)[0]["amount"]
    # Every day since then closed with nothing to pay (the popug is in debt): only the calendar moved.
    client("dynamodb").update_item(
        TableName=books.table, Key={"pk": {"S": "CALENDAR"}, "sk": {"S": "CALENDAR"}},
        UpdateExpression="SET next_open = :today", ExpressionAttributeValues={":today": {"S": TODAY.isoformat()}},
    )  # fmt: skip
    books.now = NOON
    books.task(popug)
    balance = books.me(popug)["balance"]
    books.close(TODAY)
    books.run_close(TODAY)
    me = books.me(popug)
    assert me["balance"] == balance and me["opening_amount"] == old_fee
    kept = list(store.all_transactions(popug))
    assert [(t.kind, t.business_day) for t in kept] == [("fee", TODAY.isoformat())]
    assert store.retained_from() == domain_cutoff(TODAY) + timedelta(days=1)
    assert_books_balance(books, popug)


def domain_cutoff(day: date) -> date:
    from accounting import domain

    return domain.retention_cutoff(day)


# --- the audit: invariants as a check anyone can run ---------------------------------------------------


def test_the_audit_passes_on_honest_books_and_names_what_is_wrong(books):
    _, poor, idle = three_popugs(books)
    books.consume(books.tasks_consumer, books.assigned(str(uuid.uuid4()), poor))  # priced on first sight
    books.close(TODAY)
    books.run_close(TODAY)
    report = books.audit()
    assert report["ok"], report["problems"]
    assert (report["accounts"], report["fees"], report["rewards"], report["payouts"]) == (3, 3, 1, 1)

    # A fee nobody booked: an assignment the consumer never saw.
    books.delivered.append(books.assigned(str(uuid.uuid4()), idle).model_dump(mode="json"))
    # A balance that drifted from its ledger.
    client("dynamodb").update_item(
        TableName=books.table, Key={"pk": {"S": f"BALANCE#{poor[0]}"}, "sk": {"S": poor}},
        UpdateExpression="ADD balance :one", ExpressionAttributeValues={":one": {"N": "1"}},
    )  # fmt: skip
    report = books.audit()
    assert not report["ok"] and report["problem_count"] == 2
    assert any("no fee booked for " + idle in p for p in report["problems"])
    assert any(p.startswith(f"{poor}: balance") for p in report["problems"])


# --- dead letters (R-EV-4) --------------------------------------------------------------------------------


def test_r_ev_4_a_poison_event_is_dead_lettered_with_its_reason_and_redriven_once_fixed(books, monkeypatch):
    """Through real queues on the emulator: retried, dead-lettered by the consumer with the error, seen by
    admins, and after the fix redriven and applied exactly once."""
    from shared.events import dead_letters
    from shared.ops import api as ops_api
    from shared.ops import queues as ops_queues

    sqs = client("sqs")
    name = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"dlq-{name}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(QueueName=f"src-{name}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]  # fmt: skip
    monkeypatch.setenv("SOURCE_QUEUE_URL", source)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dlq)
    monkeypatch.setenv("MAX_RECEIVE_COUNT", "5")
    monkeypatch.setenv(
        "CONSUMER_QUEUES", json.dumps({"AccountingTaskEvents": {"queue": source, "dead_letter_queue": dlq}})
    )
    dead_letters.get_settings.cache_clear()
    ops_queues.consumers.cache_clear()
    monkeypatch.setattr(dead_letters, "backoff_seconds", lambda attempts: 0)  # no waiting in a test

    def poll_once() -> int:
        """One Lambda poll of the source queue: invoke, delete what succeeded."""
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return 0
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m["Attributes"], "messageAttributes": {}, "eventSource": "aws:sqs"}
                   for m in messages]  # fmt: skip
        failed = {f["itemIdentifier"] for f in books.tasks_consumer({"Records": records}, None)["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=source, ReceiptHandle=m["ReceiptHandle"])
        return len(messages)

    popug = books.hire()
    event = books.assigned(str(uuid.uuid4()), popug)

    sqs.send_message(QueueUrl=source, MessageBody=json.dumps(bridge(event)))
    real = books.tasks_consumer.handlers["TaskAssigned"]
    monkeypatch.setitem(books.tasks_consumer.handlers, "TaskAssigned", lambda *a: 1 / 0)  # the bug
    attempts = 0
    while poll_once():
        attempts += 1
    assert attempts == 5

    status, body = call(ops_api.lambda_handler, api_event("GET", "/api/ops/dead-letters", caller=ADMIN))
    assert status == 200
    [consumer] = body["items"]
    assert consumer["consumer"] == "AccountingTaskEvents" and consumer["waiting"] == 1
    [letter] = consumer["messages"]
    assert (letter["event_id"], letter["event_name"], letter["attempts"]) == (str(event.event_id), "TaskAssigned", 5)
    assert "ZeroDivisionError" in letter["error"] and letter["failed_at"]
    assert call(ops_api.lambda_handler, api_event("GET", "/api/ops/dead-letters", caller=worker(popug)))[0] == 403

    monkeypatch.setitem(books.tasks_consumer.handlers, "TaskAssigned", real)  # the fix is deployed
    redrive = api_event("POST", "/api/ops/dead-letters/AccountingTaskEvents/redrive", caller=ADMIN)
    status, body = call(ops_api.lambda_handler, redrive)
    assert (status, body["redriven"], body["waiting"]) == (200, 1, 0)
    sqs.send_message(QueueUrl=source, MessageBody=json.dumps(bridge(event)))  # and a late duplicate
    while poll_once():
        pass
    assert [t["kind"] for t in books.ledger(popug)] == ["fee"]
    status, body = call(ops_api.lambda_handler,
                        api_event("POST", "/api/ops/dead-letters/Nobody/redrive", caller=ADMIN))  # fmt: skip
    assert (status, body["error"]["code"]) == (404, "not_found")


def test_r_ev_4_retries_back_off_exponentially():
    from shared.events import dead_letters

    assert [dead_letters.backoff_seconds(n) for n in (1, 2, 3, 4, 10)] == [2, 4, 8, 16, 300]


def test_each_close_starts_one_backup_of_the_books(books):
    from accounting import on_day_closed
    from shared.contracts.accounting import DayClosedV1

    closed = REGISTRY.envelope(DayClosedV1(business_day=TODAY, popugs_paid=1, total_paid=100, popugs_in_red=0))
    books.consume(on_day_closed.lambda_handler, closed, closed)  # redelivered: still one backup
    backups = client("dynamodb").list_backups(TableName=books.table)["BackupSummaries"]
    assert len(backups) == 1 and TODAY.isoformat() in backups[0]["BackupName"]


def test_spec_10_a_close_deletes_the_after_close_backups_past_the_backup_retention(
    books, as_function, provisioned, monkeypatch
):
    keep_days = int(as_function("AccountingOnDayClosedFunction")["BACKUP_RETENTION_DAYS"])
    # the same retention as the backup plans of the other tables
    plans = [provisioned.properties(p)["BackupPlan"] for p in ("TwiceDailyBackupPlan", "DailyBackupPlan")]
    assert {int(r["Lifecycle"]["DeleteAfterDays"]) for p in plans for r in p["BackupPlanRule"]} == {keep_days}
    monkeypatch.setenv("ACCOUNTING_TABLE_NAME", books.table)
    from accounting import on_day_closed, settings
    from shared.contracts.accounting import DayClosedV1

    settings.get.cache_clear()
    dynamodb = client("dynamodb")
    dynamodb.create_backup(TableName=books.table, BackupName="ates-local-daily-daily-20261127T003000Z")  # not ours

    def close(day: date) -> set[str]:
        books.now = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC) + timedelta(minutes=20)
        closed = DayClosedV1(business_day=day, popugs_paid=1, total_paid=100, popugs_in_red=0)
        books.consume(on_day_closed.lambda_handler, REGISTRY.envelope(closed))
        return {b["BackupName"] for b in dynamodb.list_backups(TableName=books.table)["BackupSummaries"]}

    first, last_kept = TODAY, TODAY + timedelta(days=keep_days)
    close(first)
    kept = close(last_kept)  # the first day's backup is exactly keep_days old: kept
    assert {f"after-close-{first}", f"after-close-{last_kept}"} <= kept
    after = close(last_kept + timedelta(days=1))  # now it is past the retention: deleted
    assert f"after-close-{first}" not in after
    assert after == {"ates-local-daily-daily-20261127T003000Z", f"after-close-{last_kept}",
                     f"after-close-{last_kept + timedelta(days=1)}"}  # fmt: skip


def test_r_ui_5_balances_ledgers_and_stats_download_as_csv(books):
    """SPEC §11: `?format=csv` answers the same rows as CSV: a header of the JSON's fields, a row per item."""
    kesha = books.hire("Kesha")
    books.hire("=Gosha")  # a name a spreadsheet would run: it sorts first
    books.task(kesha, complete=True)
    answer = books.api.lambda_handler(
        api_event("GET", "/api/accounting/accounts", caller=ACCOUNTANT, query={"format": "csv", "limit": "1"}),
        LambdaContext(),
    )
    assert answer["statusCode"] == 200 and answer["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    header, first, end = answer["body"].split("\r\n")
    assert header.startswith("employee_id,name,") and end == ""
    assert first.split(",")[1] == "'=Gosha", first  # shown as text, never run
    assert answer["headers"]["X-Next-Cursor"]  # one page at a time: the next one's cursor
    json_page = books.get("/accounting/accounts", ACCOUNTANT, {"limit": "1"})[1]
    assert json_page["items"][0]["employee_id"] == first.split(",")[0]
    ledger = books.api.lambda_handler(
        api_event("GET", f"/api/accounting/accounts/{kesha}/transactions", caller=worker(kesha),
                  query={"format": "csv"}),
        LambdaContext(),
    )  # fmt: skip
    lines = ledger["body"].split("\r\n")
    assert lines[0].startswith("transaction_id,kind,amount,") and len(lines) == 2 + 2  # fee, reward, end
    stats = books.api.lambda_handler(
        api_event("GET", "/api/accounting/stats", caller=ACCOUNTANT,
                  query={"from": TODAY.isoformat(), "to": TODAY.isoformat(), "format": "csv"}),
        LambdaContext(),
    )  # fmt: skip
    assert {"date", "status", "management_earnings", "fees"} <= set(stats["body"].split("\r\n")[0].split(","))
    assert len(stats["body"].split("\r\n")) == 3  # the header, today, the end
    assert books.get("/accounting/accounts", ACCOUNTANT, {"format": "pdf"})[0] == 422


def test_r_ui_6_the_close_preview_says_what_the_close_then_does_and_does_nothing(books):
    rich, poor, idle = three_popugs(books)
    extra = [books.hire(f"Busy {n}") for n in range(8)]  # more accounts than one step of the close pays (chunk 7)
    for popug in extra:
        books.task(popug, complete=True)
    balances = {p: books.me(p)["balance"] for p in [rich, poor, idle, *extra]}
    path = f"/accounting/days/{TODAY.isoformat()}/preview"

    status, preview = books.get(path, ACCOUNTANT)  # accountants see days; only admins close them
    assert status == 200, preview
    paid = {p: b for p, b in balances.items() if b > 0}
    assert (preview["closable"], preview["refusal"], preview["status"]) == (True, None, "open")
    assert (preview["popugs_to_pay"], preview["total_to_pay"], preview["popugs_in_red"], preview["accounts"]) == (
        len(paid),
        sum(paid.values()),
        1,
        len(balances),
    )
    assert (preview["today"], preview["next_open_day"]) == (TODAY.isoformat(), TODAY.isoformat())
    assert books.get(path, worker(rich))[0] == 403
    # Nothing was done: no payout, no close started, no event.
    assert {p: books.me(p)["balance"] for p in balances} == balances
    assert books.day(TODAY)["status"] == "open"
    assert [e for e in books.events("TransactionRecorded") if e["data"]["kind"] == "payout"] == []

    tomorrow = TODAY + timedelta(days=1)
    status, ahead = books.get(f"/accounting/days/{tomorrow.isoformat()}/preview", ADMIN)
    assert status == 200 and ahead["closable"] is False and ahead["refusal"]["code"] == "future_day"
    assert ahead["popugs_to_pay"] is None and ahead["total_to_pay"] is None
    assert "28 November 2026" in ahead["refusal"]["message"]

    assert books.close(TODAY)[0] == 202
    books.run_close(TODAY)
    day = books.day(TODAY)
    assert (day["popugs_paid"], day["total_paid"], day["popugs_in_red"], day["total"]) == (
        preview["popugs_to_pay"],
        preview["total_to_pay"],
        preview["popugs_in_red"],
        preview["accounts"],
    )

    status, after = books.get(path, ADMIN)
    assert (after["closable"], after["refusal"]["code"], after["popugs_to_pay"]) == (False, "already_closed", None)
    # Every day up to today is closed: the next one, tomorrow, is named, and cannot be closed before it begins.
    assert after["next_open_day"] == tomorrow.isoformat()
    assert books.get(f"/accounting/days/{tomorrow.isoformat()}/preview", ADMIN)[1]["refusal"]["code"] == "future_day"
