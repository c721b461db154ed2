"""The emulator's bulk loader (devstack.bulk_load, behind `devstack seed`): items it stores read back exactly as
the same items written with PutItem (GetItem, Query, Scan), an existing key is replaced, and it writes no
stream record (as DynamoDB's ImportTable), so no relay or stream consumer ever sees a seeded item."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
import uuid

import pytest

from tests.conftest import make_table


def load(endpoint: str, table: str, path) -> dict:
    request = urllib.request.Request(
        f"{endpoint}/_devstack/dynamodb/load", data=json.dumps({"table": table, "path": str(path)}).encode(),
        method="POST", headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def random_item(rng: random.Random, pk: str, sk: str) -> dict:
    return {
        "pk": {"S": pk}, "sk": {"S": sk}, "amount": {"N": str(rng.randint(-5000, 5000))},
        "title": {"S": f"task {rng.random()}"}, "done": {"BOOL": rng.random() < 0.5}, "gone": {"NULL": True},
        "roles": {"L": [{"S": "worker"}, {"S": "admin"}][: rng.randint(0, 2)]},
        "delta": {"M": {"2026-12-01": {"N": str(rng.randint(-9, 9))}}}, "ids": {"SS": ["a", "b"]},
    }  # fmt: skip


def stream_records(dynamodb, streams, table: str) -> int:
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"])


def test_loaded_items_read_back_as_put_items_do_and_make_no_stream_records(emulator, tmp_path):
    from shared.aws import client

    dynamodb, streams = client("dynamodb"), client("dynamodbstreams")
    table = make_table(f"bulk-{uuid.uuid4().hex[:8]}")
    rng = random.Random(5)
    put = [random_item(rng, "P#1", f"TX#{n:04d}") for n in range(0, 40, 2)]
    loaded = [random_item(rng, "P#1", f"TX#{n:04d}") for n in range(1, 40, 2)]
    for item in put:
        dynamodb.put_item(TableName=table, Item=item)
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in loaded))

    assert load(emulator, table, path)["items"] == len(loaded)

    for item in put + loaded:
        key = {"pk": item["pk"], "sk": item["sk"]}
        assert dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"] == item
    queried = dynamodb.query(TableName=table, KeyConditionExpression="pk = :p", Limit=7,
                             ExpressionAttributeValues={":p": {"S": "P#1"}})  # fmt: skip
    assert [i["sk"]["S"] for i in queried["Items"]] == [f"TX#{n:04d}" for n in range(7)]
    assert queried["LastEvaluatedKey"]["sk"] == {"S": "TX#0006"}
    assert len(dynamodb.scan(TableName=table)["Items"]) == 40
    assert stream_records(dynamodb, streams, table) == len(put)  # the PutItems' only


def test_a_loaded_item_replaces_the_item_of_its_key(emulator, tmp_path):
    from shared.aws import client

    dynamodb = client("dynamodb")
    table = make_table(f"bulk-{uuid.uuid4().hex[:8]}")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "A"}, "sk": {"S": "B"}, "old": {"S": "yes"}})
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps({"pk": {"S": "A"}, "sk": {"S": "B"}, "new": {"N": "1"}}) + "\n")
    load(emulator, table, path)
    key = {"pk": {"S": "A"}, "sk": {"S": "B"}}
    assert dynamodb.get_item(TableName=table, Key=key)["Item"] == {**key, "new": {"N": "1"}}


@pytest.mark.parametrize("line", [json.dumps({"pk": {"S": "only the hash key"}}), "not json"])
def test_a_bad_load_is_a_400_naming_the_problem(emulator, tmp_path, line):
    table = make_table(f"bulk-{uuid.uuid4().hex[:8]}")
    path = tmp_path / "items.jsonl"
    path.write_text(line + "\n")
    for name in (table, "no-such-table"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            load(emulator, name, path)
        assert refused.value.code == 400
        assert json.loads(refused.value.read())["error"]
