"""devstack/moto_backups.py: a DynamoDB backup shares its table's items, and whatever the table goes through
after it (updates of every kind, in and out of transactions, cancelled ones, puts, deletes), the backup
restores the table exactly as it was when it was taken. The backup holds no stream; the table's goes on.

moto runs in this process (mock_aws), patched as the emulator patches it: no server to start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import moto_backups, moto_dynamodb_index, moto_patches

TABLE = "ledger"


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    from moto import mock_aws

    moto_patches.apply()
    with pytest.MonkeyPatch.context() as environment, mock_aws():
        environment.delenv("AWS_ENDPOINT_URL", raising=False)  # this process's moto, not the session's emulator
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="testing",
                              aws_secret_access_key="testing")  # fmt: skip
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for index in range(6):
            client.put_item(TableName=TABLE, Item={
                "pk": {"S": f"ACCOUNT#{index % 2}"}, "sk": {"S": f"TX#{index}"}, "amount": {"N": str(index)},
                "tags": {"SS": ["fee"]}, "meta": {"M": {"by": {"S": "kesha"}}}, "log": {"L": [{"N": "1"}]},
            })  # fmt: skip
        yield client


def _scan(client: Any, table: str) -> list[dict]:
    return sorted(
        client.scan(TableName=table, ConsistentRead=True)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"])
    )


def _key(index: int) -> dict:
    return {"pk": {"S": f"ACCOUNT#{index % 2}"}, "sk": {"S": f"TX#{index}"}}


def _tables() -> tuple[Any, Any]:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    (backup,) = backend.backups.values()
    return backend.tables[TABLE], backup.table


def test_a_backup_shares_the_items_and_restores_the_table_as_it_was_whatever_came_after(dynamodb) -> None:
    before = _scan(dynamodb, TABLE)
    arn = dynamodb.create_backup(TableName=TABLE, BackupName="after-close")["BackupDetails"]["BackupArn"]
    table, copy = _tables()
    assert copy.items is not table.items and copy.stream_shard is None
    assert all(copy.items[h] is not table.items[h] for h in table.items)  # its own maps: puts and deletes differ
    shared = [(table.items[h][r], copy.items[h][r]) for h in table.items for r in table.items[h]]
    assert all(mine is theirs for mine, theirs in shared)  # not a copy of the ledger per backup
    described = dynamodb.describe_backup(BackupArn=arn)["BackupDescription"]["SourceTableDetails"]
    assert described["ItemCount"] == 6
    assert copy.__dict__.get(moto_dynamodb_index._STATE) is None  # counted, not indexed (54 s on a year)

    update = {"TableName": TABLE, "UpdateExpression": "SET meta.#by = :who, #log[0] = :two ADD amount :one, tags :more "
              "REMOVE gone", "ExpressionAttributeNames": {"#by": "by", "#log": "log"},
              "ExpressionAttributeValues": {":who": {"S": "popug"}, ":two": {"N": "2"}, ":one": {"N": "100"},
                                            ":more": {"SS": ["reward"]}}}  # fmt: skip
    dynamodb.update_item(Key=_key(0), **update)
    dynamodb.transact_write_items(TransactItems=[{"Update": {"Key": _key(1), **update}}])
    missing = {"Key": {"pk": {"S": "ACCOUNT#1"}, "sk": {"S": "TX#99"}}, "ConditionExpression": "attribute_exists(pk)"}
    with pytest.raises(ClientError):  # cancelled: TX#99 is not there to be updated
        dynamodb.transact_write_items(
            TransactItems=[{"Update": {"Key": _key(2), **update}}, {"Update": {**missing, **update}}]
        )
    dynamodb.put_item(TableName=TABLE, Item={**_key(3), "amount": {"N": "-1"}})
    dynamodb.delete_item(TableName=TABLE, Key=_key(4))
    changed = {i["sk"]["S"]: i for i in _scan(dynamodb, TABLE)}
    assert changed["TX#0"]["amount"] == {"N": "100"} and changed["TX#0"]["tags"]["SS"] == ["fee", "reward"]
    assert changed["TX#1"]["meta"] == {"M": {"by": {"S": "popug"}}} and changed["TX#2"]["amount"] == {"N": "2"}
    assert "TX#4" not in changed

    dynamodb.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    assert _scan(dynamodb, "restored") == before
    assert all(item is not theirs for item, (_, theirs) in zip(
        (i for h in _tables()[0].items.values() for i in h.values()), shared))  # fmt: skip

    # The table's stream saw every change after the backup, as before (the cancelled transaction's none).
    kinds = [record.record["eventName"] for record in _tables()[0].stream_shard.items]
    assert kinds == ["INSERT"] * 6 + ["MODIFY", "MODIFY", "MODIFY", "REMOVE"]


def test_an_item_is_copied_once_the_first_time_it_changes_after_a_backup(dynamodb) -> None:
    dynamodb.create_backup(TableName=TABLE, BackupName="one")
    table, _ = _tables()
    first = next(iter(next(iter(table.items.values())).values()))
    assert first.__dict__.get(moto_backups.SHARED)
    key = {"pk": {"S": first.hash_key.value}, "sk": {"S": first.range_key.value}}
    dynamodb.update_item(TableName=TABLE, Key=key, UpdateExpression="ADD amount :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})  # fmt: skip
    own = table.items[first.hash_key][first.range_key]
    assert own is not first and not own.__dict__.get(moto_backups.SHARED)
    dynamodb.update_item(TableName=TABLE, Key=key, UpdateExpression="ADD amount :one",
                         ExpressionAttributeValues={":one": {"N": "1"}})  # fmt: skip
    assert table.items[first.hash_key][first.range_key] is own  # changed in place from now on, as moto does
