"""moto never expires items: devstack's sweeper deletes those whose TTL attribute is in the past."""

from __future__ import annotations

import io

import boto3
import pytest

from devstack.console import Console
from devstack.sweeper import Sweeper

NOW = 1_800_000_000


@pytest.fixture()
def table(emulator):
    dynamodb = boto3.client("dynamodb", endpoint_url=emulator, region_name="us-east-1")
    name = "devstack-sweeper-test"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )
    items = {
        "expired": {"N": str(NOW - 1)},
        "long-expired": {"N": str(NOW - 86400 * 40)},
        "future": {"N": str(NOW + 60)},
        "now": {"N": str(NOW)},  # expires once the clock is past it
        "text-ttl": {"S": str(NOW - 1)},  # not a number: DynamoDB ignores it, so do we
    }
    for key, ttl in items.items():
        dynamodb.put_item(TableName=name, Item={"pk": {"S": key}, "sk": {"S": "x"}, "expires_at": ttl})
    for index in range(30):  # more than one batch write of 25
        dynamodb.put_item(
            TableName=name,
            Item={"pk": {"S": f"bulk{index}"}, "sk": {"S": "x"}, "expires_at": {"N": str(NOW - 1 - index)}},
        )
    dynamodb.put_item(TableName=name, Item={"pk": {"S": "no-ttl"}, "sk": {"S": "x"}})
    yield name
    dynamodb.delete_table(TableName=name)


def test_sweep_deletes_expired_items_only(emulator, table, tmp_path):
    console = Console(tmp_path, out=io.StringIO())
    sweeper = Sweeper({table: "expires_at"}, endpoint_url=emulator, console=console, clock=lambda: NOW)
    assert sweeper.sweep() == {table: 32}
    dynamodb = boto3.client("dynamodb", endpoint_url=emulator, region_name="us-east-1")
    left = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"])
    assert left == ["future", "no-ttl", "now", "text-ttl"]
    assert sweeper.sweep() == {table: 0}
