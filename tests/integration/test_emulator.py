"""The devstack emulator: moto with its hot spots fixed must still behave like moto (and AWS).

Above all, a cancelled TransactWriteItems writes nothing: not an item, not a stream record.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import emulator as emu

OK = {"Code": "None"}
FAILED = {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}


@pytest.fixture(scope="module")
def endpoint(fresh_emulator: str) -> str:
    return fresh_emulator


@pytest.fixture(scope="module")
def aws(endpoint: str) -> Any:
    settings = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }

    class Clients:
        dynamodb = boto3.client("dynamodb", **settings)
        streams = boto3.client("dynamodbstreams", **settings)
        sqs = boto3.client("sqs", **settings)
        events = boto3.client("events", **settings)
        ses = boto3.client("ses", **settings)

    return Clients


def _table(aws: Any, *, stream: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    aws.dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def _key(pk: str, sk: str = "1") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _put(aws: Any, table: str, pk: str, **attrs: Any) -> dict[str, Any]:
    item = {**_key(pk), **{k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in attrs.items()}}
    aws.dynamodb.put_item(TableName=table, Item=item)
    return item


def _contents(aws: Any, table: str) -> list[dict[str, Any]]:
    items = aws.dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def _seed(aws: Any, table: str) -> None:
    """Items that exist before each transaction: one per action kind that needs one."""
    _put(aws, table, "overwritten", v=1, note="before")
    _put(aws, table, "updated", v=1, note="before")
    _put(aws, table, "deleted", v=1)
    _put(aws, table, "checked", v=1)
    _put(aws, table, "guard", v=1)  # the target of failing conditions


def _actions(table: str) -> list[dict[str, Any]]:
    """Every kind of action, on items that existed and items that did not; all would succeed."""
    return [
        {"Put": {"TableName": table, "Item": {**_key("new-put"), "v": {"N": "1"}}}},
        {"Put": {"TableName": table, "Item": {**_key("overwritten"), "v": {"N": "2"}}}},
        {
            "Update": {
                "TableName": table,
                "Key": _key("updated"),
                "UpdateExpression": "SET v = v + :one, note = :after ADD tally :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":after": {"S": "after"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
        {
            "Update": {
                "TableName": table,
                "Key": _key("new-update"),
                "UpdateExpression": "SET v = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
        {"Delete": {"TableName": table, "Key": _key("deleted"), "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": table, "Key": _key("never-there")}},
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": _key("checked"),
                "ConditionExpression": "v = :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]


FAILING_LAST = {
    "put": lambda t: {
        "Put": {"TableName": t, "Item": _key("guard"), "ConditionExpression": "attribute_not_exists(pk)"}
    },
    "update": lambda t: {
        "Update": {
            "TableName": t,
            "Key": _key("absent"),
            "UpdateExpression": "SET v = :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
            "ConditionExpression": "attribute_exists(pk)",
        }
    },
    "delete": lambda t: {
        "Delete": {
            "TableName": t,
            "Key": _key("guard"),
            "ConditionExpression": "v = :two",
            "ExpressionAttributeValues": {":two": {"N": "2"}},
        }
    },
    "condition_check": lambda t: {
        "ConditionCheck": {"TableName": t, "Key": _key("absent"), "ConditionExpression": "attribute_exists(pk)"}
    },
}


def _cancel_reasons(error: pytest.ExceptionInfo[ClientError]) -> list[dict[str, Any]]:
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    return error.value.response["CancellationReasons"]


@pytest.mark.parametrize("failing", sorted(FAILING_LAST))
def test_transaction_whose_last_condition_fails_writes_nothing(aws: Any, failing: str) -> None:
    table = _table(aws)
    _seed(aws, table)
    before = _contents(aws, table)

    actions = [*_actions(table), FAILING_LAST[failing](table)]
    with pytest.raises(ClientError) as error:
        aws.dynamodb.transact_write_items(TransactItems=actions)

    assert _cancel_reasons(error) == [OK] * (len(actions) - 1) + [FAILED]
    assert _contents(aws, table) == before
    for absent in ("new-put", "new-update", "never-there", "absent"):
        assert "Item" not in aws.dynamodb.get_item(TableName=table, Key=_key(absent))
    assert (
        aws.dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "new-put"}}
        )["Items"]
        == []
    )


def test_failed_condition_midway_gives_one_reason_per_action_and_the_old_item_when_asked(aws: Any) -> None:
    table = _table(aws)
    _seed(aws, table)
    before = _contents(aws, table)
    failing_check = {
        "ConditionCheck": {
            "TableName": table,
            "Key": _key("checked"),
            "ConditionExpression": "v = :two",
            "ExpressionAttributeValues": {":two": {"N": "2"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    actions = _actions(table)
    actions[-1] = failing_check  # the passing check on the same key is replaced by a failing one
    actions.insert(1, actions.pop())  # ...and moved to the second place: later actions still run

    with pytest.raises(ClientError) as error:
        aws.dynamodb.transact_write_items(TransactItems=actions)

    reasons = _cancel_reasons(error)
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"] + ["None"] * (len(actions) - 2)
    assert reasons[1]["Item"] == {**_key("checked"), "v": {"N": "1"}}
    assert _contents(aws, table) == before


def test_validation_error_midway_rolls_back_the_actions_already_applied(aws: Any) -> None:
    table = _table(aws)
    _seed(aws, table)
    before = _contents(aws, table)
    bad_update = {
        "Update": {
            "TableName": table,
            "Key": _key("updated"),
            "UpdateExpression": "SET note = note + :one",  # note is a string: fails while applying
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }
    actions = [a for a in _actions(table) if "updated" not in json.dumps(a)] + [bad_update]

    with pytest.raises(ClientError) as error:
        aws.dynamodb.transact_write_items(TransactItems=actions)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert _contents(aws, table) == before


def test_two_actions_on_one_item_are_rejected_and_nothing_is_written(aws: Any) -> None:
    table = _table(aws)
    _seed(aws, table)
    before = _contents(aws, table)
    actions = [*_actions(table), {"Delete": {"TableName": table, "Key": _key("new-put")}}]

    with pytest.raises(ClientError) as error:
        aws.dynamodb.transact_write_items(TransactItems=actions)

    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in error.value.response["Error"]["Message"]
    assert _contents(aws, table) == before


def test_successful_transaction_writes_everything(aws: Any) -> None:
    table = _table(aws)
    _seed(aws, table)

    aws.dynamodb.transact_write_items(TransactItems=_actions(table))

    assert _contents(aws, table) == sorted(
        [
            {**_key("new-put"), "v": {"N": "1"}},
            {**_key("overwritten"), "v": {"N": "2"}},
            {**_key("updated"), "v": {"N": "2"}, "note": {"S": "after"}, "tally": {"N": "1"}},
            {**_key("new-update"), "v": {"N": "1"}},
            {**_key("checked"), "v": {"N": "1"}},
            {**_key("guard"), "v": {"N": "1"}},
        ],
        key=lambda item: json.dumps(item, sort_keys=True),
    )


def test_transaction_over_two_tables_rolls_back_both(aws: Any) -> None:
    first, second = _table(aws), _table(aws)
    _seed(aws, first)
    _put(aws, second, "ledger", amount=10)
    before = (_contents(aws, first), _contents(aws, second))
    actions = [
        *_actions(first),
        {"Put": {"TableName": second, "Item": {**_key("ledger", "2"), "amount": {"N": "5"}}}},
        {
            "Update": {
                "TableName": second,
                "Key": _key("ledger"),
                "UpdateExpression": "SET amount = amount - :five",
                "ExpressionAttributeValues": {":five": {"N": "5"}},
            }
        },
        {"ConditionCheck": {"TableName": second, "Key": _key("absent"), "ConditionExpression": "attribute_exists(pk)"}},
    ]

    with pytest.raises(ClientError) as error:
        aws.dynamodb.transact_write_items(TransactItems=actions)

    assert _cancel_reasons(error)[-1] == FAILED
    assert (_contents(aws, first), _contents(aws, second)) == before

    aws.dynamodb.transact_write_items(TransactItems=actions[:-1])
    assert len(_contents(aws, first)) == 6
    assert {**_key("ledger"), "amount": {"N": "5"}} in _contents(aws, second)


def _stream(aws: Any, table: str) -> str:
    arn = aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = aws.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return aws.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]


def _records(aws: Any, iterator: str) -> tuple[list[dict[str, Any]], str]:
    answer = aws.streams.get_records(ShardIterator=iterator)
    return answer["Records"], answer["NextShardIterator"]


def test_stream_has_no_record_of_a_cancelled_transaction_and_every_record_of_a_committed_one(aws: Any) -> None:
    table = _table(aws, stream=True)
    _seed(aws, table)
    iterator = _stream(aws, table)  # a poller following NextShardIterator, as devstack's does

    with pytest.raises(ClientError):
        aws.dynamodb.transact_write_items(TransactItems=[*_actions(table), FAILING_LAST["put"](table)])
    records, iterator = _records(aws, iterator)
    assert records == []

    aws.dynamodb.transact_write_items(TransactItems=_actions(table))
    records, iterator = _records(aws, iterator)  # the same iterator chain still sees new records

    seen = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    # moto quirk kept: an Update that creates an item emits two INSERTs (keys only, then the item)
    assert seen == [
        ("INSERT", "new-put"),
        ("MODIFY", "overwritten"),
        ("MODIFY", "updated"),
        ("INSERT", "new-update"),
        ("INSERT", "new-update"),
        ("REMOVE", "deleted"),
    ]
    by_key = {(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]): r["dynamodb"] for r in records}
    assert by_key["MODIFY", "updated"]["OldImage"]["note"] == {"S": "before"}
    assert by_key["MODIFY", "updated"]["NewImage"]["note"] == {"S": "after"}
    assert by_key["REMOVE", "deleted"]["OldImage"] == {**_key("deleted"), "v": {"N": "1"}}
    assert "NewImage" not in by_key["REMOVE", "deleted"]
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    assert _records(aws, iterator)[0] == []


def _queue(aws: Any, **attributes: str) -> tuple[str, str]:
    url = aws.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}", Attributes=attributes)["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _drain(aws: Any, url: str, expected: int, **receive: Any) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(received) < expected and time.monotonic() < deadline:
        messages = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, **receive).get("Messages", [])
        received.extend(messages)
        if messages:
            handles = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            aws.sqs.delete_message_batch(QueueUrl=url, Entries=handles)
    return received


def test_put_events_still_delivers_to_an_sqs_target(aws: Any) -> None:
    url, arn = _queue(aws)
    transformed_url, transformed_arn = _queue(aws)
    source = f"ates.test.{uuid.uuid4().hex[:6]}"
    rule = f"r-{uuid.uuid4().hex[:8]}"
    aws.events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source], "detail-type": ["TaskAssigned"]}))
    aws.events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "plain", "Arn": arn},
            {
                "Id": "transformed",
                "Arn": transformed_arn,
                "InputTransformer": {
                    "InputPathsMap": {"task": "$.detail.task_id", "kind": "$.detail-type"},
                    "InputTemplate": '{"task": "<task>", "kind": "<kind>"}',
                },
            },
        ],
    )
    entries = [
        {"Source": source, "DetailType": "TaskAssigned", "Detail": json.dumps({"task_id": f"t{i}", "n": i})}
        for i in range(10)
    ]
    answer = aws.events.put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0
    aws.events.put_events(Entries=[{**entries[0], "DetailType": "TaskCompleted"}])  # matches no rule

    bodies = [json.loads(m["Body"]) for m in _drain(aws, url, 10)]
    assert sorted(b["detail"]["n"] for b in bodies) == list(range(10))
    assert {b["source"] for b in bodies} == {source} and {b["detail-type"] for b in bodies} == {"TaskAssigned"}
    assert all(b["id"] and b["time"] and b["region"] == "us-east-1" for b in bodies)
    assert "account" not in bodies[0]  # moto's envelope lacks it: devstack's poller adds it
    transformed = [json.loads(m["Body"]) for m in _drain(aws, transformed_url, 10)]
    assert sorted(transformed, key=lambda b: int(b["task"][1:])) == [
        {"task": f"t{i}", "kind": "TaskAssigned"} for i in range(10)
    ]


def test_standard_queue_delivers_every_message_sent_singly_and_in_batches(aws: Any) -> None:
    url, _ = _queue(aws)
    sent = set()
    for batch in range(30):
        entries = [{"Id": f"m{i}", "MessageBody": f"batch-{batch}-{i}"} for i in range(10)]
        answer = aws.sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert len(answer["Successful"]) == 10 and not answer.get("Failed")
        sent.update(e["MessageBody"] for e in entries)
    for i in range(20):
        aws.sqs.send_message(
            QueueUrl=url,
            MessageBody=f"single-{i}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "single"}},
        )
        sent.add(f"single-{i}")
    attributes = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == str(len(sent))

    received = _drain(aws, url, len(sent), MessageAttributeNames=["All"])

    assert sorted(m["Body"] for m in received) == sorted(sent)
    singles = [m for m in received if m["Body"].startswith("single-")]
    assert all(m["MessageAttributes"]["kind"]["StringValue"] == "single" for m in singles)
    assert aws.sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    assert aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"] == {
        "ApproximateNumberOfMessages": "0"
    }


def test_message_received_max_receive_count_times_moves_to_the_dead_letter_queue(aws: Any) -> None:
    dlq_url, dlq_arn = _queue(aws)
    url, _ = _queue(aws, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}))
    aws.sqs.send_message(QueueUrl=url, MessageBody="poison")

    for _ in range(2):  # received (and not deleted) twice, made visible again at once
        time.sleep(0.01)
        assert [m["Body"] for m in aws.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]] == ["poison"]
    time.sleep(0.01)
    assert aws.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", []) == []  # moved on this receive

    moved = aws.sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]
    assert moved[0]["Attributes"]["ApproximateReceiveCount"] == "3"  # the count travels with the message


def test_sent_emails_shows_what_ses_sent(aws: Any, endpoint: str) -> None:
    sender = f"noreply-{uuid.uuid4().hex[:6]}@ates.example"
    aws.ses.verify_email_identity(EmailAddress=sender)
    aws.ses.send_email(
        Source=sender,
        Destination={"ToAddresses": ["popug@ates.example"], "CcAddresses": ["boss@ates.example"]},
        Message={
            "Subject": {"Data": "Your invitation"},
            "Body": {"Text": {"Data": "Join: http://x/invite"}, "Html": {"Data": "<a href='http://x/invite'>Join</a>"}},
        },
    )
    raw = (
        f"From: {sender}\r\nTo: payroll@ates.example\r\nSubject: Payout\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nYou earned 12.50\r\n"
    )
    aws.ses.send_raw_email(Source=sender, RawMessage={"Data": raw.encode()})

    mine = [m for m in emu.sent_emails(endpoint) if m["source"] == sender]

    assert [m["kind"] for m in mine] == ["simple", "raw"]
    simple, raw_sent = mine
    assert simple["to"] == ["popug@ates.example"] and simple["cc"] == ["boss@ates.example"]
    assert simple["subject"] == "Your invitation"
    assert simple["body"] == {"text": "Join: http://x/invite", "html": "<a href='http://x/invite'>Join</a>"}
    assert raw_sent["to"] == ["payroll@ates.example"] and raw_sent["subject"] == "Payout"
    assert raw_sent["body"]["text"].strip() == "You earned 12.50"
    assert simple["timestamp"] <= raw_sent["timestamp"] <= time.time() + 1
    assert simple["sent_at"].endswith("Z")


def test_start_on_a_taken_port_fails_with_a_clear_message(endpoint: str) -> None:
    taken = int(endpoint.rsplit(":", 1)[1])

    with pytest.raises(emu.EmulatorError, match=rf"port {taken}(.|\n)*in use"):
        emu.start(taken, timeout=60)


def test_health_route_says_moto_is_patched(endpoint: str) -> None:
    import urllib.request

    with urllib.request.urlopen(f"{endpoint}/_devstack/health") as response:
        health = json.loads(response.read())
    assert (health["status"], health["moto"], health["patched"]) == ("ok", "5.2.5", True)
    # and its full garbage collections (devstack.gc_policy), for the benchmarks
    assert set(health["full_collections"]) == {"collections", "seconds", "longest_seconds", "sweeps", "frozen_objects"}


def test_calls_are_counted_per_calling_function_named_in_the_user_agent(endpoint: str) -> None:
    from botocore.config import Config

    settings = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "testing",
                "aws_secret_access_key": "testing"}  # fmt: skip
    caller = f"Fn{uuid.uuid4().hex[:8]}"
    as_function = boto3.client("sqs", config=Config(user_agent_appid=caller), **settings)
    before_total, before = emu.call_counts(endpoint), emu.call_counts_by_caller(endpoint)
    as_function.list_queues()
    as_function.list_queues()
    boto3.client("sqs", **settings).list_queues()
    after_total, after = emu.call_counts(endpoint), emu.call_counts_by_caller(endpoint)
    assert after[caller] == {"AmazonSQS.ListQueues": 2}
    plain_before = before.get("devstack", {}).get("AmazonSQS.ListQueues", 0)
    assert after["devstack"]["AmazonSQS.ListQueues"] - plain_before == 1
    assert after_total["AmazonSQS.ListQueues"] - before_total.get("AmazonSQS.ListQueues", 0) == 3


def test_queue_attributes_subset_matches_moto_property() -> None:
    from moto.sqs.models import sqs_backends

    from devstack.moto_patches import queue_attributes

    backend = sqs_backends[f"{uuid.uuid4().int % 10**12:012d}"]["us-east-1"]  # in this process, not the emulator
    dlq = backend.create_queue("dlq")
    queues = [
        backend.create_queue("plain"),
        backend.create_queue("fifo.fifo", FifoQueue="true", ContentBasedDeduplication="true"),
        backend.create_queue(
            "full",
            KmsMasterKeyId="alias/aws/sqs",
            Policy=json.dumps({"Version": "2012-10-17", "Statement": []}),
            RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": 3}),
        ),
    ]
    backend.send_message("plain", "x")
    for queue in queues:
        whole = queue.attributes
        assert queue_attributes(queue) == whole
        for name in [*whole, "FifoQueue", "KmsMasterKeyId", "Nope"]:
            expected = {name: whole[name]} if name in whole else {}
            assert queue_attributes(queue, {name}) == expected


def test_apply_refuses_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    from devstack import moto_patches

    monkeypatch.setattr(moto, "__version__", "9.9.9")
    with pytest.raises(RuntimeError, match=r"moto 5\.2\.5 but moto 9\.9\.9"):
        moto_patches.apply()


# --------------------------------------------------------------------------------------------
# DynamoDB Streams: records serialised once, shard iterators that hold no state
# --------------------------------------------------------------------------------------------


def _shard(aws: Any, table: str) -> tuple[str, str]:
    arn = aws.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return arn, aws.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]


def _iterator(aws: Any, table: str, kind: str, sequence: str | None = None) -> str:
    arn, shard = _shard(aws, table)
    extra = {"SequenceNumber": sequence} if sequence is not None else {}
    return aws.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)[
        "ShardIterator"
    ]


def _read_all(aws: Any, iterator: str, limit: int) -> tuple[list[dict[str, Any]], str]:
    """Follow NextShardIterator as devstack's poller does, until a page comes back empty."""
    records: list[dict[str, Any]] = []
    while True:
        page = aws.streams.get_records(ShardIterator=iterator, Limit=limit)
        assert len(page["Records"]) <= limit
        iterator = page["NextShardIterator"]
        if not page["Records"]:
            return records, iterator
        records.extend(page["Records"])


def _pks(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_stream_iterators_of_every_type_read_every_record_in_order(aws: Any) -> None:
    table = _table(aws, stream=True)
    for n in range(23):
        _put(aws, table, f"item-{n:02d}", v=n)
    written = [f"item-{n:02d}" for n in range(23)]

    records, tail = _read_all(aws, _iterator(aws, table, "TRIM_HORIZON"), limit=5)
    assert _pks(records) == written
    assert all(r["eventName"] == "INSERT" and r["eventSource"] == "aws:dynamodb" for r in records)
    assert records[7]["dynamodb"]["NewImage"] == {**_key("item-07"), "v": {"N": "7"}}
    assert isinstance(records[0]["dynamodb"]["ApproximateCreationDateTime"], datetime.datetime)
    sequence = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert sequence == list(range(sequence[0], sequence[0] + 23))  # one shard: consecutive, as moto numbers them

    seventh = records[7]["dynamodb"]["SequenceNumber"]
    at, _ = _read_all(aws, _iterator(aws, table, "AT_SEQUENCE_NUMBER", seventh), limit=1000)
    after, _ = _read_all(aws, _iterator(aws, table, "AFTER_SEQUENCE_NUMBER", seventh), limit=3)
    assert _pks(at) == written[7:]
    assert _pks(after) == written[8:]
    assert at[0] == records[7]  # the same record, byte for byte

    latest = _iterator(aws, table, "LATEST")
    assert aws.streams.get_records(ShardIterator=latest)["Records"] == []
    _put(aws, table, "later", v=99)
    _put(aws, table, "later-still", v=100)
    assert _pks(_read_all(aws, latest, limit=1)[0]) == ["later", "later-still"]
    # the drained chain's last iterator (from an empty page) still sees what was written after it
    assert _pks(aws.streams.get_records(ShardIterator=tail)["Records"]) == ["later", "later-still"]

    # an iterator may be read again: it names a position, not a cursor that moves
    first = _iterator(aws, table, "TRIM_HORIZON")
    once = aws.streams.get_records(ShardIterator=first, Limit=4)
    again = aws.streams.get_records(ShardIterator=first, Limit=4)
    assert once["Records"] == again["Records"] and _pks(once["Records"]) == written[:4]
    assert _pks(aws.streams.get_records(ShardIterator=once["NextShardIterator"], Limit=2)["Records"]) == written[4:6]


def test_stream_records_carry_binary_and_nested_values_as_aws_does(aws: Any) -> None:
    table = _table(aws, stream=True)
    item = {
        **_key("binary"),
        "blob": {"B": b"\x00\x01raw"},
        "blobs": {"BS": [b"\xff", b"x"]},
        "nested": {
            "M": {
                "blob": {"B": b"\xfe"},
                "n": {"N": "1.50"},
                "none": {"NULL": True},
                "l": {"L": [{"BOOL": False}, {"SS": ["q", "r"]}, {"NS": ["1", "2"]}, {"S": "üñí"}]},
            }
        },
    }
    iterator = _iterator(aws, table, "LATEST")
    aws.dynamodb.put_item(TableName=table, Item=item)

    (record,) = aws.streams.get_records(ShardIterator=iterator)["Records"]

    image = record["dynamodb"]["NewImage"]
    assert image == aws.dynamodb.get_item(TableName=table, Key=_key("binary"))["Item"]
    assert image["blob"] == {"B": b"\x00\x01raw"}
    assert image["nested"]["M"]["blob"] == {"B": b"\xfe"}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert record["dynamodb"]["Keys"] == _key("binary")


def test_record_json_is_what_moto_serialises_but_binary_once() -> None:
    """In this process: the cached JSON has exactly the members and values of moto's own serializer."""
    from moto.core.serialize import XFormedAttributePicker, get_serializer_class
    from moto.core.utils import get_service_model
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import StreamRecord

    from devstack.moto_patches import _record_json

    class Table:
        hash_key_attr, range_key_attr = "pk", "sk"

    model = get_service_model("dynamodbstreams")
    serializer = get_serializer_class("dynamodbstreams", model.protocol)(
        operation_model=model.operation_model("GetRecords"),
        pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=None),
    )

    def moto_json(record: Any) -> dict[str, Any]:
        return json.loads(serializer.serialize({"Records": [record.to_json()]})["body"])["Records"][0]

    attributes = {  # binary values as moto stores what boto3 sends: bytes
        **_key("a", "b"),
        "n": {"N": "1.50"},
        "blob": {"B": b"\x00\x01raw"},
        "blobs": {"BS": [b"\xff"]},
        "m": {"M": {"none": {"NULL": True}, "blob": {"B": b"\xfe"}, "l": {"L": [{"BOOL": False}, {"S": "üñí\u2028"}]}}},
    }
    item = Item(DynamoType(attributes["pk"]), DynamoType(attributes["sk"]), attributes)
    record = StreamRecord(Table, "NEW_AND_OLD_IMAGES", "MODIFY", item, item, 1100000000017454423009)

    assert json.loads(_record_json(record)) == moto_json(record)
    assert _record_json(record) is _record_json(record)  # computed once

    Table.range_key_attr = None  # a binary hash key: moto encodes it twice in Keys, AWS (and devstack) once
    keyed = Item(DynamoType({"B": b"\x00k"}), None, {"pk": {"B": b"\x00k"}})
    binary_key = json.loads(_record_json(StreamRecord(Table, "KEYS_ONLY", "INSERT", None, keyed, 1)))
    assert binary_key["dynamodb"]["Keys"] == {"pk": {"B": "AGs="}}


def test_get_records_leaves_no_shard_iterator_behind(aws: Any, endpoint: str) -> None:
    """moto kept every iterator it issued (~2 KB each, in a dict and in its instance tracker): an idle
    poller asking every 0.25-2 s grew the emulator without end."""
    import urllib.request

    table = _table(aws, stream=True)
    _put(aws, table, "one")
    iterator = _iterator(aws, table, "TRIM_HORIZON")
    seen = 0
    for _ in range(300):
        page = aws.streams.get_records(ShardIterator=iterator, Limit=10)
        seen += len(page["Records"])
        iterator = page["NextShardIterator"]
    for kind in ("TRIM_HORIZON", "LATEST"):
        for _ in range(50):
            _iterator(aws, table, kind)

    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as response:
        models = json.loads(response.read())
    assert seen == 1
    assert len(models.get("dynamodbstreams", {}).get("ShardIterator", [])) == 0  # moto: 401 and counting


def test_bad_stream_requests_are_client_errors_not_server_errors(aws: Any) -> None:
    table = _table(aws, stream=True)
    arn, shard = _shard(aws, table)
    iterator = _iterator(aws, table, "TRIM_HORIZON")
    forged = iterator.rpartition("|1|")[0] + "|1|bm90IGFuIGl0ZXJhdG9y"

    for bad in ("nonsense-but-long-enough", forged, iterator.replace("/stream/", "/stream/x")):
        with pytest.raises(ClientError) as error:
            aws.streams.get_records(ShardIterator=bad)
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, bad
    with pytest.raises(ClientError, match="ValidationException"):
        aws.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        aws.streams.get_shard_iterator(
            StreamArn=arn, ShardId="shardId-00000000000000000000-nope", ShardIteratorType="LATEST"
        )
    before_the_shard = _iterator(aws, table, "AT_SEQUENCE_NUMBER", "1" * 21)
    with pytest.raises(ClientError, match="ValidationException"):
        aws.streams.get_records(ShardIterator=before_the_shard)


def test_items_and_messages_are_not_kept_beyond_their_table_and_queue(aws: Any, endpoint: str) -> None:
    """moto's instance tracker kept every DynamoDB item, query result copy, stream record and SQS
    message ever made (for /moto-api/data.json): memory that grew with every call. And a missed GetItem
    left an empty partition behind (ItemCount still counts items only)."""
    import urllib.request

    table = _table(aws, stream=True)
    for name in ("one", "two"):
        _put(aws, table, name)
    for _ in range(5):
        aws.dynamodb.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "one"}}
        )
        aws.dynamodb.get_item(TableName=table, Key={"pk": {"S": f"missing-{uuid.uuid4()}"}, "sk": {"S": "x"}})
    queue = aws.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    aws.sqs.send_message(QueueUrl=queue, MessageBody="hello")
    assert len(aws.sqs.receive_message(QueueUrl=queue)["Messages"]) == 1

    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as response:
        models = json.loads(response.read())
    assert len(models.get("dynamodb", {}).get("Item", [])) == 0
    assert len(models.get("dynamodb", {}).get("StreamRecord", [])) == 0
    assert len(models.get("sqs", {}).get("Message", [])) == 0
    assert aws.dynamodb.describe_table(TableName=table)["Table"]["ItemCount"] == 2
    assert len(aws.dynamodb.scan(TableName=table)["Items"]) == 2
