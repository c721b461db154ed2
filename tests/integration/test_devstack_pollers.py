"""devstack's event source mappings on the emulator: SQS queues (partial batch failures, redrive to the
DLQ) and DynamoDB streams (filters, batching, retry from the failed record), with a recording pool."""

from __future__ import annotations

import hashlib
import json
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from devstack import pollers, provision, template
from devstack.console import Console
from devstack.workers import Invocation

FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, CodeUri: fns/, Handler: x.handler}
    Resources:
      Bus:
        Type: AWS::Events::EventBus
        Properties: {Name: pollers-bus}
      Dlq:
        Type: AWS::SQS::Queue
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 1
          RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 2}
      DetailQueue:
        Type: AWS::SQS::Queue
      LandingQueue:
        Type: AWS::SQS::Queue
      RetryQueue:
        Type: AWS::SQS::Queue
        Properties: {VisibilityTimeout: 1}
      Rule:
        Type: AWS::Events::Rule
        Properties:
          EventBusName: !Ref Bus
          EventPattern: {source: [ates.staff]}
          Targets:
            - {Id: queue, Arn: !GetAtt Queue.Arn}
            - {Id: detail, Arn: !GetAtt DetailQueue.Arn, InputPath: $.detail}
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_IMAGE}
      Consumer:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Queue:
              Type: SQS
              Properties:
                Queue: !GetAtt Queue.Arn
                BatchSize: 10
                FunctionResponseTypes: [ReportBatchItemFailures]
      Retrier:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Queue:
              Type: SQS
              Properties: {Queue: !GetAtt RetryQueue.Arn}
      Lander:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Queue:
              Type: SQS
              Properties:
                Queue: !GetAtt LandingQueue.Arn
                BatchSize: 100
                MaximumBatchingWindowInSeconds: 1
      DetailConsumer:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Queue:
              Type: SQS
              Properties: {Queue: !GetAtt DetailQueue.Arn}
      Relay:
        Type: AWS::Serverless::Function
        Properties:
          Events:
            Stream:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt Table.StreamArn
                StartingPosition: TRIM_HORIZON
                BatchSize: 10
                MaximumBatchingWindowInSeconds: 1
                FunctionResponseTypes: [ReportBatchItemFailures]
                FilterCriteria:
                  Filters:
                    - Pattern: '{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}}}'
    """
)


class RecordingPool:
    """Stands in for the worker pool: records each batch and answers with `behaviour(function, event)`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.behaviour: Callable[[str, dict, int], Invocation] = lambda f, e, n: Invocation("r", ok=True)
        self.changed = threading.Condition()

    def invoke(self, function: str, event: dict) -> Invocation:
        with self.changed:
            self.calls.append((function, event))
            self.changed.notify_all()
            count = sum(1 for f, _ in self.calls if f == function)
        return self.behaviour(function, event, count)

    def wait_for(self, test: Callable[[], bool], timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        with self.changed:
            while not test():
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"timed out; calls so far: {json.dumps(self.calls)[:2000]}"
                self.changed.wait(remaining)

    def batches(self, function: str) -> list[list[dict]]:
        return [event["Records"] for f, event in self.calls if f == function]


@pytest.fixture(scope="module")
def provisioned(fresh_emulator, tmp_path_factory) -> provision.Provisioned:
    root = tmp_path_factory.mktemp("pollers")
    (root / "template.yaml").write_text(FIXTURE)
    return provision.provision(template.load(root / "template.yaml", stack_name="pollers"), fresh_emulator)


@pytest.fixture()
def run(provisioned, fresh_emulator, tmp_path):
    """Start the pollers of the fixture with a recording pool; stop them after the test."""
    started: list[pollers.Pollers] = []

    def start(pool: RecordingPool, only: str) -> pollers.Pollers:
        mappings = [m for m in pollers.mappings_from(provisioned) if m.function == only]
        running = pollers.Pollers(
            mappings,
            pool,
            endpoint_url=fresh_emulator,  # type: ignore[arg-type]
            console=Console(tmp_path, quiet=True),
            queue_targets=provisioned.queue_targets,
        )
        running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop(wait=0.1)


def client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


def test_mappings_come_from_the_translated_template(provisioned):
    specs = {m.function: m for m in pollers.mappings_from(provisioned)}
    queue, stream = specs["Consumer"], specs["Relay"]
    assert queue.kind == "sqs" and queue.batch_size == 10 and queue.report_failures
    assert queue.queue_url == provisioned.resolver.ref("Queue")
    assert stream.kind == "dynamodb" and stream.starting_position == "TRIM_HORIZON"
    assert stream.batching_window == 1 and stream.source_arn == provisioned.resolver.get_att("Table", "StreamArn")
    assert stream.patterns == [{"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}}}]


def test_sqs_partial_failures_stay_and_reach_the_dlq_after_max_receives(provisioned, fresh_emulator, run):
    sqs = client("sqs", fresh_emulator)
    queue_url, dlq_url = provisioned.resolver.ref("Queue"), provisioned.resolver.ref("Dlq")
    for body in ("good-1", "poison", "good-2"):
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": body},
                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            },
        )
    pool = RecordingPool()

    def fail_poison(function: str, event: dict, count: int) -> Invocation:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "poison"]
        return Invocation("r", ok=True, payload={"batchItemFailures": failed})

    pool.behaviour = fail_poison
    run(pool, "Consumer")
    pool.wait_for(lambda: sum(r["body"] == "poison" for b in pool.batches("Consumer") for r in b) >= 2)
    record = pool.batches("Consumer")[0][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == provisioned.resolver.get_att(
        "Queue", "Arn"
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and record["receiptHandle"]
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["messageAttributes"]["kind"]["stringValue"] == record["body"]
    assert record["messageAttributes"]["blob"] == {  # Lambda's shape: binary as base64
        "stringValue": None, "binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"
    }  # fmt: skip
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest() and record["md5OfMessageAttributes"]
    bodies = [r["body"] for b in pool.batches("Consumer") for r in b]
    assert sorted(bodies[:3]) == ["good-1", "good-2", "poison"] and bodies.count("good-1") == 1  # successes deleted
    deadline = time.monotonic() + 10
    dead: list[dict] = []
    while not dead and time.monotonic() < deadline:  # after maxReceiveCount (2) the redrive policy moves it
        dead = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
    assert [m["Body"] for m in dead] == ["poison"]


def test_a_failed_invocation_leaves_the_whole_batch_for_redelivery(provisioned, fresh_emulator, run):
    sqs = client("sqs", fresh_emulator)
    retry_url = provisioned.resolver.ref("RetryQueue")
    sqs.send_message(QueueUrl=retry_url, MessageBody="again")
    pool = RecordingPool()
    pool.behaviour = lambda f, e, n: Invocation("r", ok=n > 1, error=None if n > 1 else {"errorMessage": "crash"})
    run(pool, "Retrier")
    pool.wait_for(lambda: len(pool.batches("Retrier")) >= 2)  # redelivered after the visibility timeout
    assert [r["body"] for r in pool.batches("Retrier")[1]] == ["again"]
    assert pool.batches("Retrier")[1][0]["attributes"]["ApproximateReceiveCount"] == "2"
    time.sleep(1.5)
    assert len(pool.batches("Retrier")) == 2  # deleted once it succeeded


def test_eventbridge_deliveries_are_mended_account_and_input_path(provisioned, fresh_emulator, run):
    pool = RecordingPool()
    run(pool, "Consumer")
    run(pool, "DetailConsumer")
    client("events", fresh_emulator).put_events(
        Entries=[
            {
                "EventBusName": "pollers-bus",
                "Source": "ates.staff",
                "DetailType": "EmployeeHired",
                "Detail": json.dumps({"event_id": "e-1"}),
            }
        ]
    )
    pool.wait_for(lambda: pool.batches("Consumer") and pool.batches("DetailConsumer"))
    envelope = json.loads(pool.batches("Consumer")[0][0]["body"])
    assert envelope["account"] == "123456789012" and envelope["detail"] == {"event_id": "e-1"}
    assert json.loads(pool.batches("DetailConsumer")[0][0]["body"]) == {"event_id": "e-1"}  # InputPath $.detail


def test_streams_filter_batch_and_retry_from_the_failed_record(provisioned, fresh_emulator, run):
    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    for pk in ("OUTBOX#1", "ACCOUNT#1", "OUTBOX#2", "OUTBOX#3"):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, "n": {"N": "1"}})
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": "OUTBOX#1"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "2"}},
    )  # a MODIFY: filtered out
    pool = RecordingPool()

    def fail_second_once(function: str, event: dict, count: int) -> Invocation:
        if count == 1:
            return Invocation(
                "r",
                ok=True,
                payload={"batchItemFailures": [{"itemIdentifier": event["Records"][1]["dynamodb"]["SequenceNumber"]}]},
            )
        if count == 2:
            return Invocation("r", ok=False, error={"errorMessage": "transient"})
        return Invocation("r", ok=True, payload={"batchItemFailures": []})

    pool.behaviour = fail_second_once
    started = time.monotonic()
    run(pool, "Relay")
    pool.wait_for(lambda: len(pool.batches("Relay")) >= 3)
    keys = [[r["dynamodb"]["Keys"]["pk"]["S"] for r in batch] for batch in pool.batches("Relay")]
    assert keys[0] == ["OUTBOX#1", "OUTBOX#2", "OUTBOX#3"]  # one batch (window), inserts with the prefix only
    assert keys[1] == ["OUTBOX#2", "OUTBOX#3"]  # retried from the reported sequence number
    assert keys[2] == ["OUTBOX#2", "OUTBOX#3"]  # an error retries the same batch
    assert time.monotonic() - started >= 1.0  # retries back off
    record = pool.batches("Relay")[0][0]
    assert record["eventSourceARN"] == provisioned.resolver.get_att("Table", "StreamArn")
    assert record["eventName"] == "INSERT" and record["dynamodb"]["NewImage"]["n"] == {"N": "1"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int | float)
    time.sleep(0.6)
    assert len(pool.batches("Relay")) == 3  # and nothing is delivered twice once it succeeded


def test_r_loc_1_a_stream_poller_resumes_after_its_saved_position(provisioned, fresh_emulator, tmp_path):
    from devstack.progress import ProgressFile

    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    mappings = [m for m in pollers.mappings_from(provisioned) if m.function == "Relay"]

    def start(pool: RecordingPool, resume: bool) -> pollers.Pollers:
        running = pollers.Pollers(
            mappings, pool, endpoint_url=fresh_emulator, console=Console(tmp_path, quiet=True),  # type: ignore[arg-type]
            positions=ProgressFile(tmp_path / "pollers.json"), resume=resume,
        )  # fmt: skip
        running.start()
        return running

    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#resume-a"}})
    first = RecordingPool()
    running = start(first, resume=False)
    first.wait_for(lambda: any(r["dynamodb"]["Keys"]["pk"]["S"] == "OUTBOX#resume-a"
                               for batch in first.batches("Relay") for r in batch))  # fmt: skip
    time.sleep(0.6)  # the position is saved once the batch is through
    running.stop(wait=1.0)
    for pk in ("OUTBOX#resume-b", "OUTBOX#resume-c"):  # written while devstack was down
        dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}})
    second = RecordingPool()
    running = start(second, resume=True)
    try:
        second.wait_for(lambda: len(second.batches("Relay")) >= 1)
        time.sleep(1.2)
    finally:
        running.stop(wait=0.1)
    delivered = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in second.batches("Relay") for r in batch]
    assert delivered == ["OUTBOX#resume-b", "OUTBOX#resume-c"]  # nothing read before, nothing missed


def test_a_stream_poller_resumes_after_the_last_record_it_read_when_a_read_fails(
    provisioned, fresh_emulator, run, monkeypatch
):
    """The emulator going away (a restart) makes reads fail: the poller backs off and opens the shard again after
    the last record it read, so nothing is read twice (or, from LATEST, skipped)."""
    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    failures = {"left": 0}
    read = pollers.stream_reads.StreamReads.get_records

    def flaky(self, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("the emulator went away")
        return read(self, **kwargs)

    monkeypatch.setattr(pollers.stream_reads.StreamReads, "get_records", flaky)
    pool = RecordingPool()
    pool.behaviour = lambda f, e, n: Invocation("r", ok=True, payload={"batchItemFailures": []})
    run(pool, "Relay")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#before"}})
    pool.wait_for(
        lambda: any(r["dynamodb"]["Keys"]["pk"]["S"] == "OUTBOX#before" for b in pool.batches("Relay") for r in b)
    )
    delivered = sum(len(batch) for batch in pool.batches("Relay"))
    failures["left"] = 2
    time.sleep(0.6)  # the poller meets both failures (and backs off)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#after"}})
    pool.wait_for(
        lambda: any(r["dynamodb"]["Keys"]["pk"]["S"] == "OUTBOX#after" for b in pool.batches("Relay") for r in b)
    )
    later = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in pool.batches("Relay") for r in batch][delivered:]
    assert later == ["OUTBOX#after"] and failures["left"] == 0


def test_a_stream_poller_that_dies_is_restarted_where_it_had_delivered_up_to(provisioned, fresh_emulator, run):
    """A poller thread whose loop dies is started again (issue 15 point 4), from where the dead one had
    delivered: not from TRIM_HORIZON again (every record once more), not from LATEST (the gap skipped)."""
    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    pool = RecordingPool()
    pool.behaviour = lambda f, e, n: Invocation("r", ok=True, payload={"batchItemFailures": []})
    running = run(pool, "Relay")

    def delivered(pk: str) -> bool:
        return any(r["dynamodb"]["Keys"]["pk"]["S"] == pk for b in pool.batches("Relay") for r in b)

    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#before-crash"}})
    pool.wait_for(lambda: delivered("OUTBOX#before-crash"))
    count = sum(len(batch) for batch in pool.batches("Relay"))
    running.crash(running.mappings[0].logical_id)
    deadline = time.monotonic() + 15
    while running.restarts < 1:
        assert time.monotonic() < deadline, "the poller was not restarted"
        time.sleep(0.05)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#after-crash"}})
    pool.wait_for(lambda: delivered("OUTBOX#after-crash"))
    later = [r["dynamodb"]["Keys"]["pk"]["S"] for batch in pool.batches("Relay") for r in batch][count:]
    assert later == ["OUTBOX#after-crash"]
    with pytest.raises(KeyError, match="no event source mapping"):
        running.crash("NoSuchMapping")


def test_an_idle_stream_is_not_read_until_it_grows_and_then_at_once(provisioned, fresh_emulator, run):
    """Lambda reads a shard four times a second; locally each read is an HTTP call the emulator and devstack pay
    for in CPU the functions wait for. The emulator says when a stream grows (devstack/stream_heads.py): an idle
    poller reads nothing, and a record written after a long quiet is still delivered at once."""
    from devstack.emulator import call_counts

    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    pool = RecordingPool()
    pool.behaviour = lambda f, e, n: Invocation("r", ok=True, payload={"batchItemFailures": []})
    run(pool, "Relay")

    def delivered(pk: str) -> bool:
        return any(r["dynamodb"]["Keys"]["pk"]["S"] == pk for b in pool.batches("Relay") for r in b)

    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#before-quiet"}})
    pool.wait_for(lambda: delivered("OUTBOX#before-quiet"))
    time.sleep(0.5)  # the poller's last read after the delivery
    reads = call_counts(fresh_emulator).get("DynamoDBStreams_20120810.GetRecords", 0)
    time.sleep(2.5)  # Lambda's pace: ten reads
    assert call_counts(fresh_emulator).get("DynamoDBStreams_20120810.GetRecords", 0) - reads <= 1
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "OUTBOX#after-quiet"}})
    pool.wait_for(lambda: delivered("OUTBOX#after-quiet"), timeout=5)  # not the poller's safety read, 30 s later


def test_a_backlog_longer_than_one_read_is_read_to_its_end_without_waiting_for_a_write(
    provisioned, fresh_emulator, run
):
    """A read gives at most 1,000 records: a full one means more are waiting, whatever the stream's heads say,
    even when the filters dropped all it gave."""
    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    filtered = [f"ACCOUNT#backlog-{n:04d}" for n in range(2000)]  # at least one read of nothing but these
    keys = [f"OUTBOX#backlog-{n:04d}" for n in range(50)]
    written = filtered + keys
    for start in range(0, len(written), 25):
        puts = [{"PutRequest": {"Item": {"pk": {"S": pk}}}} for pk in written[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: puts})
    pool = RecordingPool()
    pool.behaviour = lambda f, e, n: Invocation("r", ok=True, payload={"batchItemFailures": []})
    run(pool, "Relay")
    wanted = set(keys)
    pool.wait_for(lambda: wanted <= {r["dynamodb"]["Keys"]["pk"]["S"] for b in pool.batches("Relay") for r in b},
                  timeout=10)  # fmt: skip


def test_a_delivered_batch_with_nothing_after_it_costs_no_other_read(provisioned, fresh_emulator, run, monkeypatch):
    """After a delivery the poller reads again only if the stream grew meanwhile: the empty read that used to
    follow every delivery was every other GetRecords under bench.load."""
    reads: list[float] = []
    read = pollers.stream_reads.StreamReads.get_records

    def counted(self: Any, **kwargs: Any) -> dict[str, Any]:
        reads.append(time.monotonic())
        return read(self, **kwargs)

    monkeypatch.setattr(pollers.stream_reads.StreamReads, "get_records", counted)
    dynamodb = client("dynamodb", fresh_emulator)
    table = provisioned.resolver.ref("Table")
    pool, delivered = RecordingPool(), {}  # key -> when the batch holding it was delivered
    pool.behaviour = lambda f, e, n: (
        delivered.update(dict.fromkeys((r["dynamodb"]["Keys"]["pk"]["S"] for r in e["Records"]), time.monotonic()))
        or Invocation("r", ok=True, payload={"batchItemFailures": []})
    )
    running = run(pool, "Relay")
    deadline = time.monotonic() + 15
    while not running.heads.live:  # without the emulator's heads watch a poller reads at Lambda's pace
        assert time.monotonic() < deadline, "the heads watch never came up"
        time.sleep(0.05)
    for index in range(3):
        key = f"OUTBOX#quiet-after-{index}"  # a new item each (the table is the module's)
        dynamodb.put_item(TableName=table, Item={"pk": {"S": key}})
        pool.wait_for(lambda k=key: k in delivered, timeout=5)  # (its batch waits out the mapping's 1 s window)
        time.sleep(0.6)  # the time for a read after the delivery
        assert not [at for at in reads if at > delivered[key]], f"read after delivery {index}"


def test_messages_trickling_in_during_the_batching_window_are_one_batch_for_a_few_receives(
    provisioned, fresh_emulator, run, monkeypatch
):
    """A queue fed a few messages at a time (the analytics lake's, under load) fills its batch over the
    mapping's window: one invocation, and a receive when the window ends instead of one per trickle."""
    sqs = client("sqs", fresh_emulator)
    queue_url = provisioned.resolver.ref("LandingQueue")
    calls = []
    call = pollers.json_api.JsonApi.call

    def counted(self: Any, operation: str, parameters: dict) -> dict:
        if operation == "ReceiveMessage":
            calls.append(time.monotonic())
        return call(self, operation, parameters)

    monkeypatch.setattr(pollers.json_api.JsonApi, "call", counted)
    pool = RecordingPool()
    run(pool, "Lander")
    time.sleep(0.3)  # the poller's first long poll is waiting
    for burst in range(5):
        sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": f"{burst}-{i}"} for i in range(5)]
        )
        time.sleep(0.12)
    pool.wait_for(lambda: sum(len(b) for b in pool.batches("Lander")) >= 25, timeout=10)
    assert [len(batch) for batch in pool.batches("Lander")] == [25]
    assert len(calls) <= 4  # the long poll, the window's end, and the next long poll (was one per burst and more)


def test_an_invocation_wakes_the_stream_pollers_only_when_they_are_dormant(tmp_path):
    """Every invocation tells the pollers something ran. Waking every waiting poller each time (60 invocations
    a second under bench.load) was a tenth of devstack's hub's CPU; only a dormant poller needs it."""

    class CountingCondition(threading.Condition):
        woken = 0

        def notify_all(self) -> None:
            CountingCondition.woken += 1
            super().notify_all()

    class Pool:
        def add_listener(self, listener):
            self.invoked = listener

    pool = Pool()
    running = pollers.Pollers([], pool, endpoint_url="http://127.0.0.1:9", console=Console(tmp_path, quiet=True))  # type: ignore[arg-type]
    running._wake = CountingCondition()
    for _ in range(50):
        pool.invoked()
    assert CountingCondition.woken == 0 and not running.dormant
    running._last_activity -= pollers.DORMANT_AFTER + 1  # nothing ran for a while: pollers sleep at the dormant pace
    assert running.dormant
    pool.invoked()
    assert CountingCondition.woken == 1 and not running.dormant
