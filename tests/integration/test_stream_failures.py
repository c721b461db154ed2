"""R-SEC-4 on the emulator: a stream batch that keeps failing is given up on after its retries, lands in the
mapping's failure queue as Lambda's failure record (and the shard moves on), is shown among the dead letters, and
a redrive replays it: the records are read back from the stream and handled once more, by the real relay."""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from devstack import pollers, provision, template
from devstack.console import Console
from devstack.stream_reads import StreamReads
from devstack.workers import Invocation
from shared import dynamo
from shared.aws import client
from shared.events import relay
from shared.events.outbox import outbox_put
from shared.ops import queues
from tests.events import sqs_event
from tests.integration.test_devstack_pollers import RecordingPool
from tests.integration.test_devstack_pollers import client as emulator_client
from tests.integration.test_event_kernel import account_created, drain

FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Globals:
      Function: {Runtime: python3.12, CodeUri: fns/, Handler: x.handler}
    Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_IMAGE}
      FailureQueue:
        Type: AWS::SQS::Queue
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
                MaximumRetryAttempts: 2
                FunctionResponseTypes: [ReportBatchItemFailures]
                DestinationConfig:
                  OnFailure: {Type: SQS, Destination: !GetAtt FailureQueue.Arn}
    """
)


@pytest.fixture(scope="module")
def provisioned(fresh_emulator, tmp_path_factory) -> provision.Provisioned:
    root = tmp_path_factory.mktemp("stream-failures")
    (root / "template.yaml").write_text(FIXTURE)
    return provision.provision(template.load(root / "template.yaml", stack_name="failures"), fresh_emulator)


def test_r_sec_4_a_batch_that_keeps_failing_goes_to_the_failure_queue_and_the_shard_moves_on(
    provisioned, fresh_emulator, tmp_path
):
    (mapping,) = pollers.mappings_from(provisioned)
    assert mapping.max_retries == 2 and mapping.on_failure_queue_url
    dynamodb = emulator_client("dynamodb", fresh_emulator)
    table_name = provisioned.resolver.ref("Table")
    dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "POISON"}})
    pool = RecordingPool()
    pool.behaviour = lambda function, event, n: (
        Invocation("r", ok=False, error={"errorMessage": "boom"})
        if event["Records"][0]["dynamodb"]["Keys"]["pk"]["S"] == "POISON"
        else Invocation("r", ok=True, payload={"batchItemFailures": []})
    )
    running = pollers.Pollers([mapping], pool, endpoint_url=fresh_emulator, console=Console(tmp_path, quiet=True))
    running.start()
    try:
        pool.wait_for(lambda: len(pool.calls) >= 3)  # the first try and two retries
        dynamodb.put_item(TableName=table_name, Item={"pk": {"S": "AFTER"}})
        pool.wait_for(lambda: any(b[0]["dynamodb"]["Keys"]["pk"]["S"] == "AFTER" for b in pool.batches("Relay")))
    finally:
        running.stop(wait=0.1)
    assert len([b for b in pool.batches("Relay") if b[0]["dynamodb"]["Keys"]["pk"]["S"] == "POISON"]) == 3

    sqs = emulator_client("sqs", fresh_emulator)
    (message,) = sqs.receive_message(QueueUrl=mapping.on_failure_queue_url, MaxNumberOfMessages=10)["Messages"]
    failure = json.loads(message["Body"])
    poison = pool.batches("Relay")[0][0]["dynamodb"]["SequenceNumber"]
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison, poison, 1)
    assert info["streamArn"] == mapping.source_arn and info["shardId"].startswith("shardId-")
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"]["functionError"] == "Unhandled"

    shown = queues.describe(message)  # what GET /ops/dead-letters shows an admin
    assert shown["event_name"] == "Stream batch" and shown["producer"] == table_name
    assert shown["data"]["records"] == 1 and shown["data"]["first_sequence_number"] == poison
    assert shown["error"] == "RetryAttemptsExhausted: Unhandled" and shown["attempts"] == 3


def failure_record_of(table_name: str) -> dict:
    """The failure record devstack (as Lambda) would send for everything on the table's stream."""
    streams = client("dynamodbstreams")
    arn = client("dynamodb").describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    reads = StreamReads(os.environ["AWS_ENDPOINT_URL"])  # what devstack's pollers read
    raw = reads.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    records = [pollers._stream_record(r, arn) for r in raw]
    spec = pollers.MappingSpec("Outbox", "Relay", arn, "dynamodb", batch_size=100)
    return pollers._failure_record(spec, shard["ShardId"], records, 21, function_error=True)


def test_r_sec_4_a_redriven_failure_is_replayed_from_the_stream_and_its_events_published_once(table, bus_queue):
    events = [account_created(), account_created()]
    dynamo.transact([dynamo.put(table, {"pk": "ACCOUNT#1", "sk": "ACCOUNT"}), outbox_put(table, events)])
    failure = failure_record_of(table)
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 2  # the account and the outbox item: the filter is gone

    assert relay.lambda_handler(sqs_event(failure), None) == {"batchItemFailures": []}
    published = drain(bus_queue, expected=2)
    assert sorted(b["detail"]["event_id"] for b in published) == sorted(str(e.event_id) for e in events)
    assert drain(bus_queue, expected=1, timeout=1.5) == []  # the account record was not an outbox item


def test_r_sec_4_a_replay_the_stream_no_longer_holds_stays_a_failure(table, bus_queue):
    dynamo.transact([outbox_put(table, [account_created()])])
    gone = failure_record_of(table)
    info = gone["DDBStreamBatchInfo"]
    info["startSequenceNumber"] = info["endSequenceNumber"] = str(int(info["endSequenceNumber"]) + 10**6)
    event = sqs_event(gone, {"not": "a failure record"})
    failed = relay.lambda_handler(event, None)["batchItemFailures"]
    assert [f["itemIdentifier"] for f in failed] == [r["messageId"] for r in event["Records"]]  # back to the queue
    assert drain(bus_queue, expected=1, timeout=1.5) == []
