"""devstack's event tap: every `ates.*` event on the template's bus lands once in events.jsonl (redeliveries and
an event put twice included), `/_devstack/events.json` filters it, and `audit-ledger` feeds it to the audit."""

from __future__ import annotations

import json
import sys
import textwrap
import time
import types
import uuid

import boto3
import pytest
from werkzeug.test import Client

from devstack import cli, provision, tap, template
from devstack.console import Console
from devstack.control import Control, Services

FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Resources:
      EventBus:
        Type: AWS::Events::EventBus
        Properties: {Name: tap-test-bus}
    """
)


@pytest.fixture(scope="module")
def provisioned(emulator, tmp_path_factory) -> provision.Provisioned:
    root = tmp_path_factory.mktemp("tap")
    (root / "template.yaml").write_text(FIXTURE)
    return provision.provision(template.load(root / "template.yaml", stack_name="taptest"), emulator)


@pytest.fixture()
def running_tap(provisioned, emulator, tmp_path):
    started = tap.EventTap(provisioned, emulator, tmp_path / "events.jsonl", Console(tmp_path, quiet=True))
    started.start()
    yield started
    started.stop(wait=0.1, remove=True)


def events_client(endpoint: str):
    return boto3.client(
        "events", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def envelope(name: str, correlation_id: str, **data) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_name": name,
        "event_version": 1,
        "event_time": "2024-05-01T10:00:00Z",
        "producer": "tasks",
        "correlation_id": correlation_id,
        "data": data,
    }


def put(endpoint: str, *events: dict, source: str = "ates.tasks") -> None:
    entries = [
        {"Source": source, "DetailType": e["event_name"], "Detail": json.dumps(e), "EventBusName": "tap-test-bus"}
        for e in events
    ]
    response = events_client(endpoint).put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0, response


def wait_until_drained(running: tap.EventTap, ids: set[str], timeout: float = 15) -> list[dict]:
    """The file's envelopes once every id is in it AND the tap's queue holds nothing more (none in flight)."""
    sqs = running.sqs
    deadline = time.monotonic() + timeout
    while True:
        written = tap.read(running.path)
        attributes = sqs.get_queue_attributes(
            QueueUrl=running.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        pending = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        if ids <= {e.get("event_id") for e in written} and pending == 0:
            return written
        assert time.monotonic() < deadline, f"timed out: written {written}, pending {pending}"
        time.sleep(0.1)


def test_the_tap_is_a_rule_of_its_own_on_the_template_bus(running_tap, emulator):
    assert running_tap.buses == ["tap-test-bus"]
    rules = events_client(emulator).list_rules(EventBusName="tap-test-bus")["Rules"]
    tapping = [r for r in rules if r["Name"] == running_tap.name]
    assert tapping and json.loads(tapping[0]["EventPattern"]) == {"source": [{"prefix": "ates."}]}


def test_every_domain_event_lands_once_even_when_put_twice(running_tap, emulator):
    journey = str(uuid.uuid4())
    created = envelope("TaskCreated", journey, task_id="t-1")
    assigned = envelope("TaskAssigned", journey, task_id="t-1", assignee_id="p-1")
    put(emulator, created)
    put(emulator, created, assigned)  # the same event again (a relay retry), then another one
    put(emulator, envelope("Foreign", journey), source="other.system")  # not a domain event: not tapped
    written = wait_until_drained(running_tap, {created["event_id"], assigned["event_id"]})
    ours = [e for e in written if e["correlation_id"] == journey]
    assert ours == [created, assigned]  # the envelope itself (the event's `detail`), once each, in order
    assert running_tap.path.read_text().count(created["event_id"]) == 1


def test_events_arriving_one_by_one_are_taken_in_batches(provisioned, emulator, tmp_path):
    """Relays publish each event as it is made: a tap that took each as it came cost the emulator a receive and
    a delete per event. After a batch that was not full it lets the next ones gather for BATCH_WINDOW."""
    running = tap.EventTap(provisioned, emulator, tmp_path / "events.jsonl", Console(tmp_path, quiet=True))
    batches: list[int] = []
    call = running.queue.call

    def counting(operation: str, params: dict) -> dict:
        answer = call(operation, params)
        if operation == "ReceiveMessage" and answer.get("Messages"):
            batches.append(len(answer["Messages"]))
        return answer

    running.queue.call = counting  # before the reader starts: it counts every receive
    running.start()
    try:
        journey = str(uuid.uuid4())
        events = [envelope("TaskCreated", journey, task_id=f"t-{i}") for i in range(12)]
        for event in events:  # one at a time, 50 ms apart: 0.6 s for the twelve
            put(emulator, event)
            time.sleep(0.05)
        written = wait_until_drained(running, {e["event_id"] for e in events})
    finally:
        running.stop(wait=0.1, remove=True)
    assert [e for e in written if e["correlation_id"] == journey] == events
    assert sum(batches) == 12 and len(batches) <= 5, batches  # one receive per event without the window


def test_a_redelivered_message_is_not_written_again(running_tap, emulator):
    event = envelope("TaskCompleted", str(uuid.uuid4()), task_id="t-2")
    put(emulator, event)
    wait_until_drained(running_tap, {event["event_id"]})
    body = json.dumps({"source": "ates.tasks", "detail-type": "TaskCompleted", "detail": event})
    running_tap.sqs.send_message(QueueUrl=running_tap.queue_url, MessageBody=body)  # as a redelivery looks
    wait_until_drained(running_tap, {event["event_id"]})
    assert running_tap.path.read_text().count(event["event_id"]) == 1


def test_the_control_route_filters_by_correlation_id(running_tap, emulator):
    journey, other = str(uuid.uuid4()), str(uuid.uuid4())
    events = [
        envelope("TaskCreated", journey, task_id="t-3"),
        envelope("TaskCreated", other, task_id="t-4"),
        envelope("TaskAssigned", journey, task_id="t-3"),
    ]
    put(emulator, *events)
    wait_until_drained(running_tap, {e["event_id"] for e in events})
    services = Services(None, None, None, emulator, lambda e: None, events_file=running_tap.path)  # type: ignore[arg-type]
    control = Client(Control(services))
    items = control.get(f"/_devstack/events.json?correlation_id={journey}").json["items"]
    assert [e["event_id"] for e in items] == [events[0]["event_id"], events[2]["event_id"]]  # oldest first
    named = control.get(f"/_devstack/events.json?correlation_id={journey}&event_name=TaskAssigned").json["items"]
    assert [e["event_id"] for e in named] == [events[2]["event_id"]]
    newest = control.get(f"/_devstack/events.json?correlation_id={journey}&limit=1").json["items"]
    assert [e["event_id"] for e in newest] == [events[2]["event_id"]]
    everything = control.get("/_devstack/events.json").json["items"]
    assert {e["event_id"] for e in events} <= {e["event_id"] for e in everything}
    assert control.get("/_devstack/events.json?limit=0").status_code == 400
    assert control.get("/_devstack/events.json?limit=x").status_code == 400


def test_the_audit_waits_until_the_tap_has_written_what_it_was_sent(provisioned, emulator, tmp_path):
    """A tap behind (here: not yet reading) is waited for; what it was sent is then in the file."""
    behind = tap.EventTap(provisioned, emulator, tmp_path / "events.jsonl", Console(tmp_path, quiet=True))
    try:
        events = [envelope("TaskAssigned", "c-behind") for _ in range(3)]
        put(emulator, *events)
        assert tap.wait_written(emulator, timeout=0.5) is False
        behind.start()
        assert tap.wait_written(emulator, timeout=15) is True
        assert {e["event_id"] for e in events} <= {e["event_id"] for e in tap.read(behind.path)}
    finally:
        behind.stop(wait=0.1, remove=True)
    assert tap.wait_written("http://127.0.0.1:1", timeout=1) is None  # no devstack there: nothing to wait for


def test_a_tap_on_a_kept_emulator_keeps_the_file_and_remembers_its_ids(provisioned, emulator, tmp_path):
    path = tmp_path / "events.jsonl"
    old = envelope("TaskCreated", "c-old")
    path.write_text(json.dumps(old) + "\n")
    kept = tap.EventTap(provisioned, emulator, path, Console(tmp_path, quiet=True), fresh=False)
    kept.start()
    try:
        put(emulator, old)  # already in the file: not written again
        new = envelope("TaskCreated", "c-new")
        put(emulator, new)
        written = wait_until_drained(kept, {new["event_id"]})
        assert [e["event_id"] for e in written] == [old["event_id"], new["event_id"]]
    finally:
        kept.stop(wait=0.1, remove=True)
    assert not [r for r in events_client(emulator).list_rules(EventBusName="tap-test-bus")["Rules"]
                if r["Name"] == kept.name]  # fmt: skip


# -- audit-ledger -----------------------------------------------------------------------------------------
AUDIT_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                   "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SAM_LOCAL", "ACCOUNTING_TABLE_NAME")  # fmt: skip


@pytest.fixture()
def stand_in_audit(monkeypatch):
    """`accounting.audit` replaced by a recorder; the environment the command sets is restored afterwards."""
    import os

    for name in AUDIT_VARIABLES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    seen: dict = {}

    def run(events):
        seen.update(events=events, environment={k: os.environ.get(k) for k in AUDIT_VARIABLES})
        return {"ok": seen.get("ok", True), "problems": []}

    import accounting

    module = types.ModuleType("accounting.audit")
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "accounting.audit", module)
    monkeypatch.setattr(accounting, "audit", module, raising=False)
    return seen


def test_audit_ledger_feeds_the_tapped_events_to_the_audit(stand_in_audit, tmp_path, capsys):
    events = [envelope("TaskCreated", "c-1"), envelope("TaskAssigned", "c-1")]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    state = tmp_path / "state.json"
    state.write_text(
        json.dumps(
            {"endpoint_url": "http://127.0.0.1:1", "log_dir": str(tmp_path), "tables": {"AccountingTable": "acc"}}
        )
    )
    assert cli.main(["audit-ledger", "--state-file", str(state)]) == 0
    assert stand_in_audit["events"] == events
    assert stand_in_audit["environment"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert stand_in_audit["environment"]["ACCOUNTING_TABLE_NAME"] == "acc"
    assert stand_in_audit["environment"]["AWS_ACCESS_KEY_ID"] == "devstack"
    assert json.loads(capsys.readouterr().out) == {"ok": True, "problems": []}
    stand_in_audit["ok"] = False
    assert cli.main(["audit-ledger", "--state-file", str(state), "--table", "other"]) == 1
    assert stand_in_audit["environment"]["ACCOUNTING_TABLE_NAME"] == "other"


def test_audit_ledger_without_a_running_devstack_says_so(stand_in_audit, tmp_path, capsys):
    assert cli.main(["audit-ledger", "--state-file", str(tmp_path / "none.json")]) == 2
    assert "no running devstack" in capsys.readouterr().err
    assert "events" not in stand_in_audit


def test_the_accounting_table_is_found_by_its_logical_id():
    assert cli.accounting_table(["ates-local-AuthTable", "ates-local-AccountingTable"]) == "ates-local-AccountingTable"
    with pytest.raises(LookupError, match="pass --table"):
        cli.accounting_table(["a-AccountingTable", "b-AccountingTable"])
    with pytest.raises(LookupError):
        cli.accounting_table(["ates-local-AuthTable"])
