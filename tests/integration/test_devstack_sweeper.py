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


def test_sweep_reads_no_table_on_the_devstack_emulator(emulator, table, tmp_path):
    """A year of data must not cost a whole-table Scan a minute: the emulator lists what expired."""
    from devstack import emulator as emu

    console = Console(tmp_path, out=io.StringIO())
    sweeper = Sweeper({table: "expires_at"}, endpoint_url=emulator, console=console, clock=lambda: NOW)
    scans = emu.call_counts(emulator).get("DynamoDB_20120810.Scan", 0)
    assert sweeper.sweep() == {table: 32}
    assert emu.call_counts(emulator).get("DynamoDB_20120810.Scan", 0) == scans

    # the listing follows later writes: a new expired item, a TTL moved into the past, one moved out
    dynamodb = boto3.client("dynamodb", endpoint_url=emulator, region_name="us-east-1")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "late"}, "sk": {"S": "x"}, "expires_at": {"N": str(NOW - 5)}})
    for key, ttl in (("future", NOW - 10), ("late", NOW + 10)):
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": key}, "sk": {"S": "x"}},
            UpdateExpression="SET expires_at = :t",
            ExpressionAttributeValues={":t": {"N": str(ttl)}},
        )
    assert sweeper.sweep() == {table: 1}
    left = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName=table)["Items"])
    assert left == ["late", "no-ttl", "now", "text-ttl"]


def test_sweep_scans_an_endpoint_that_lists_nothing(emulator, table, tmp_path, monkeypatch):
    """Against a plain moto server (no devstack routes) the sweeper falls back to scanning."""
    from devstack import sweeper as sweeper_module

    def not_listed(*args):
        raise sweeper_module._NotListed()

    monkeypatch.setattr(sweeper_module, "_listed_expired", not_listed)
    console = Console(tmp_path, out=io.StringIO())
    sweeper = Sweeper({table: "expires_at"}, endpoint_url=emulator, console=console, clock=lambda: NOW)
    assert sweeper.sweep() == {table: 32}
