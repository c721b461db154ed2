"""The shared event kernel on the emulator (R-EV-2, R-EV-3): outbox commits with the state change,
the relay publishes every outbox event to the bus, and consumers apply each event exactly once."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared import dynamo
from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.auth import AccountCreatedV1
from shared.contracts.tasks import TaskCreatedV1
from shared.events import relay
from shared.events.consumer import Consumer
from shared.events.outbox import outbox_put
from tests.events import bridge, sqs_event


def account_created(roles=("worker",)) -> Any:
    return REGISTRY.envelope(AccountCreatedV1(account_id=uuid.uuid4(), version=1, roles=list(roles), active=True))


def stream_records(table: str) -> list[dict[str, Any]]:
    """Everything on the table's stream so far, shaped as Lambda's DynamoDB stream event records."""
    streams = client("dynamodbstreams")
    arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records += streams.get_records(ShardIterator=iterator)["Records"]
    return records


def drain(queue_url: str, expected: int, timeout: float = 10) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        messages = client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_r_ev_2_state_and_events_commit_together(table):
    event = account_created()
    dynamo.transact([dynamo.put(table, {"pk": "ACCOUNT#1", "sk": "ACCOUNT", "v": 1}), outbox_put(table, [event])])
    outbox = [r for r in stream_records(table) if r["dynamodb"]["Keys"]["pk"]["S"].startswith("OUTBOX#")]
    assert len(outbox) == 1
    assert str(event.event_id) in outbox[0]["dynamodb"]["NewImage"]["events"]["S"]


def test_r_ev_2_a_refused_state_change_emits_nothing(table):
    dynamo.transact([dynamo.put(table, {"pk": "ACCOUNT#1", "sk": "ACCOUNT"})])
    before = len(stream_records(table))
    with pytest.raises(ClientError):
        dynamo.transact(
            [
                outbox_put(table, [account_created()]),
                dynamo.put(table, {"pk": "ACCOUNT#1", "sk": "ACCOUNT"}, condition="attribute_not_exists(pk)"),
            ]
        )
    assert len(stream_records(table)) == before
    items = client("dynamodb").scan(TableName=table)["Items"]
    assert [i["pk"]["S"] for i in items] == ["ACCOUNT#1"]


def test_relay_publishes_every_event_of_every_outbox_item_in_batches(table, bus_queue, monkeypatch):
    events = [account_created() for _ in range(23)]
    dynamo.transact([outbox_put(table, events[:12]), outbox_put(table, events[12:])])
    calls = []
    real_put = client("events").put_events
    monkeypatch.setattr(client("events"), "put_events", lambda **kw: calls.append(kw) or real_put(**kw))

    response = relay.lambda_handler({"Records": stream_records(table)}, None)

    assert response == {"batchItemFailures": []}
    assert [len(c["Entries"]) for c in calls] == [10, 10, 3]  # batches of up to 10 across outbox items
    delivered = drain(bus_queue, 23)
    assert {b["detail"]["event_id"] for b in delivered} == {str(e.event_id) for e in events}
    assert {b["detail-type"] for b in delivered} == {"AccountCreated"}
    assert {b["source"] for b in delivered} == {"ates.auth"}


def test_relay_retries_failed_entries_until_they_are_published(table, bus_queue, monkeypatch):
    events = [account_created() for _ in range(3)]
    dynamo.transact([outbox_put(table, events)])
    real_put = client("events").put_events
    attempts = []

    def flaky(**kwargs):
        attempts.append(len(kwargs["Entries"]))
        if len(attempts) == 1:  # the first call loses its second entry, as EventBridge may under throttling
            response = real_put(Entries=[kwargs["Entries"][0], kwargs["Entries"][2]])
            ok = response["Entries"]
            return {"FailedEntryCount": 1, "Entries": [ok[0], {"ErrorCode": "ThrottlingException"}, ok[1]]}
        return real_put(**kwargs)

    monkeypatch.setattr(client("events"), "put_events", flaky)
    assert relay.lambda_handler({"Records": stream_records(table)}, None) == {"batchItemFailures": []}
    assert attempts == [3, 1]
    assert {b["detail"]["event_id"] for b in drain(bus_queue, 3)} == {str(e.event_id) for e in events}


def test_relay_reports_the_first_record_it_could_not_publish_so_the_stream_retries_it(table, bus_queue, monkeypatch):
    dynamo.transact([outbox_put(table, [account_created()])])
    dynamo.transact([outbox_put(table, [account_created()])])
    records = stream_records(table)
    monkeypatch.setattr(relay.time, "sleep", lambda _: None)
    monkeypatch.setattr(
        client("events"),
        "put_events",
        lambda **kw: {"FailedEntryCount": len(kw["Entries"]), "Entries": [{"ErrorCode": "X"}] * len(kw["Entries"])},
    )
    response = relay.lambda_handler({"Records": records}, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}


# --- consumer base -------------------------------------------------------------------------------


def counting_consumer(table: str, applied: list, name="test.on_account_created") -> Consumer:
    def on_account_created(envelope, data):
        applied.append(data)
        return [dynamo.update(table, f"COUNT#{data.account_id}", "C", "ADD n :one", values={":one": 1})]

    return Consumer(name, lambda: table, {"AccountCreated": on_account_created})


def test_r_ev_3_a_redelivered_event_is_applied_once(table):
    applied: list = []
    consumer = counting_consumer(table, applied)
    event = account_created()
    assert consumer(sqs_event(bridge(event), bridge(event)), None) == {"batchItemFailures": []}
    assert consumer(sqs_event(bridge(event)), None) == {"batchItemFailures": []}
    item = dynamo.get(table, f"COUNT#{event.data['account_id']}", "C")
    assert item["n"] == 1


def test_each_consumer_has_its_own_deduplication(table):
    event = account_created()
    first, second = counting_consumer(table, [], "a.consumer"), counting_consumer(table, [], "b.consumer")
    first(sqs_event(bridge(event)), None)
    second(sqs_event(bridge(event)), None)
    assert dynamo.get(table, f"COUNT#{event.data['account_id']}", "C")["n"] == 2


def test_the_emulators_envelope_without_account_is_accepted(table):
    applied: list = []
    counting_consumer(table, applied)(sqs_event(bridge(account_created(), with_account=False)), None)
    assert len(applied) == 1


def test_a_poison_event_fails_alone_and_is_reported_for_retry(table):
    applied: list = []
    good, bad = bridge(account_created()), bridge(account_created())
    bad["detail"]["data"]["roles"] = ["emperor"]  # not a role: the contract refuses it
    event = sqs_event(good, bad, {"not": "an event"})
    response = counting_consumer(table, applied)(event, None)
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    assert failed == {event["Records"][1]["messageId"], event["Records"][2]["messageId"]}
    assert len(applied) == 1


def test_a_failing_handler_leaves_no_marker_so_the_retry_applies_it(table):
    calls = []

    def flaky(envelope, data):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient")
        return [dynamo.put(table, {"pk": "DONE", "sk": str(envelope.event_id)})]

    consumer = Consumer("test.flaky", lambda: table, {"AccountCreated": flaky})
    event = account_created()
    assert consumer(sqs_event(bridge(event)), None)["batchItemFailures"]
    assert consumer(sqs_event(bridge(event)), None) == {"batchItemFailures": []}
    assert dynamo.get(table, "DONE", str(event.event_id))


class Deadline:
    """A Lambda context whose remaining time drops by `step_ms` each time it is read."""

    def __init__(self, remaining_ms: float, step_ms: float) -> None:
        self.remaining_ms, self.step_ms = remaining_ms, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.remaining_ms -= self.step_ms
        return int(self.remaining_ms)


def test_near_the_timeout_a_consumer_leaves_the_rest_of_its_batch_for_later_and_keeps_what_it_applied(table):
    """A timed-out invocation returns its whole batch, applied records too: stopping first reports only
    the records it did not reach, and the retry applies exactly those (found by bench/load.py)."""
    consumer = counting_consumer(table, [])
    events = [account_created() for _ in range(5)]

    def counts() -> list[int]:
        return [(dynamo.get(table, f"COUNT#{e.data['account_id']}", "C") or {}).get("n", 0) for e in events]

    batch = sqs_event(*(bridge(e) for e in events))
    response = consumer(batch, Deadline(remaining_ms=4500, step_ms=1000))  # 3.5 s, 2.5 s, then 1.5 s: too little
    later = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert later == [r["messageId"] for r in batch["Records"][2:]]
    assert counts() == [1, 1, 0, 0, 0]
    assert consumer(sqs_event(*(bridge(e) for e in events)), None) == {"batchItemFailures": []}
    assert counts() == [1, 1, 1, 1, 1]


def test_r_ev_1_consumers_receive_old_versions_upcast(table):
    seen = []
    consumer = Consumer("test.tasks", lambda: table, {"TaskCreated": lambda e, d: seen.append(d) or []})
    v1 = REGISTRY.envelope(TaskCreatedV1(task_id=uuid.uuid4(), title="[UBERPOP-7] Sort seeds", created_by=uuid.uuid4()))
    assert v1.event_version == 1
    consumer(sqs_event(bridge(v1)), None)
    assert (seen[0].jira_id, seen[0].title) == ("UBERPOP-7", "Sort seeds")
