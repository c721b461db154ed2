"""R-EV-1: TaskCreated v1 stays in the registry, and a consumer built on the shared Consumer receives it
upcast to v2: the `[JIRA-ID]` prefix of the v1 title becomes `jira_id`, the title loses the brackets.

Every consumer of TaskCreated (accounting, analytics) relies on this: its handler only ever sees v2."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import jsonschema
import pytest

from shared import dynamo
from shared.contracts import REGISTRY, Envelope
from shared.contracts.tasks import TaskCreatedV1, TaskCreatedV2
from shared.events.consumer import Consumer
from tests.conftest import make_table
from tests.events import bridge, sqs_event

ROOT = Path(__file__).resolve().parents[2]
V1_SCHEMA = json.loads((ROOT / "schemas" / "ates.tasks" / "TaskCreated" / "v1.json").read_text())


@pytest.fixture()
def consumer(emulator):
    """A TaskCreated consumer as a context would write one: its handler records what it was given."""
    table = make_table(f"upcast-{uuid.uuid4().hex[:8]}")
    received: list = []

    def on_task_created(envelope, data):
        received.append(data)
        return [dynamo.update(table, f"SEEN#{data.task_id}", "C", "ADD applied :one", values={":one": 1})]

    handler = Consumer("contract.on_task_created", lambda: table, {"TaskCreated": on_task_created})
    handler.received = received
    handler.applied = lambda task_id: (dynamo.get(table, f"SEEN#{task_id}", "C") or {}).get("applied", 0)
    return handler


def v1_envelope(title: str, description: str = "Seeds by size") -> Envelope:
    """A v1 event exactly as an old producer published it (validated against the committed v1 schema)."""
    data = TaskCreatedV1(task_id=uuid.uuid4(), title=title, description=description, created_by=uuid.uuid4())
    envelope = REGISTRY.envelope(data)
    assert envelope.event_version == 1
    jsonschema.validate(envelope.model_dump(mode="json"), V1_SCHEMA)
    return envelope


def test_r_ev_1_a_v1_task_created_reaches_the_handler_as_v2_with_the_jira_id_split_out(consumer):
    event = v1_envelope("[UBERPOP-42] Feed the parrots")
    assert consumer(sqs_event(bridge(event)), None) == {"batchItemFailures": []}
    (data,) = consumer.received
    assert isinstance(data, TaskCreatedV2)
    assert (data.jira_id, data.title, data.due_date) == ("UBERPOP-42", "Feed the parrots", None)
    assert str(data.task_id) == event.data["task_id"] and str(data.created_by) == event.data["created_by"]
    assert data.description == "Seeds by size"


@pytest.mark.parametrize(
    ("title", "jira_id", "upcast_title"),
    [
        ("Plain title", None, "Plain title"),
        ("  [AB-7]   Spaced out  ", "AB-7", "Spaced out"),
        ("[draft] Not a Jira id", None, "[draft] Not a Jira id"),
        ("Mentions [UBERPOP-1] later", None, "Mentions [UBERPOP-1] later"),
    ],
)
def test_r_ev_1_only_a_leading_jira_id_is_split_out(consumer, title, jira_id, upcast_title):
    consumer(sqs_event(bridge(v1_envelope(title))), None)
    (data,) = consumer.received
    assert (data.jira_id, data.title) == (jira_id, upcast_title)


def test_v2_passes_through_and_both_versions_are_deduplicated_by_event_id(consumer):
    v2 = REGISTRY.envelope(
        TaskCreatedV2(task_id=uuid.uuid4(), title="Sort", jira_id="UBERPOP-9", due_date="2026-12-31",
                      created_by=uuid.uuid4())
    )  # fmt: skip
    v1 = v1_envelope("[UBERPOP-8] Sort again")
    assert consumer(sqs_event(bridge(v1), bridge(v2), bridge(v1, with_account=False)), None) == {
        "batchItemFailures": []
    }
    assert [(d.jira_id, d.title) for d in consumer.received[:2]] == [("UBERPOP-8", "Sort again"), ("UBERPOP-9", "Sort")]
    assert str(consumer.received[1].due_date) == "2026-12-31"
    assert (consumer.applied(v1.data["task_id"]), consumer.applied(v2.data["task_id"])) == (1, 1)


def test_a_v1_event_that_breaks_its_own_schema_is_refused_not_guessed(consumer):
    broken = bridge(v1_envelope("[UBERPOP-1] Sort"))
    del broken["detail"]["data"]["created_by"]
    event = sqs_event(broken)
    assert consumer(event, None) == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert consumer.received == []
