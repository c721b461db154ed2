"""devstack/moto_values.py: equal scalar values are one object (bulk load and snapshot), sets, lists and maps
never are, and an update of one item leaves every item that shared its values as it was."""

from __future__ import annotations

import copy
import pickle

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType

from devstack import moto_patches, moto_values, snapshot

SAME = {"account": {"S": "popug-1"}, "amount": {"N": "-20"}, "paid": {"BOOL": True}, "note": {"NULL": True}}
CONTAINERS = {
    "tags": {"SS": ["a"]},
    "counts": {"NS": ["1"]},
    "meta": {"M": {"by": {"S": "x"}}},
    "log": {"L": [{"S": "x"}]},
}


def test_the_pool_types_an_equal_scalar_once_and_never_a_container() -> None:
    pool = moto_values.ValuePool()
    first = {name: pool.typed(raw) for name, raw in {**SAME, **CONTAINERS}.items()}
    second = {name: pool.typed(raw) for name, raw in {**SAME, **CONTAINERS}.items()}
    assert all(first[name] is second[name] for name in SAME)
    assert all(first[name] is not second[name] and first[name] == second[name] for name in CONTAINERS)
    assert pool.typed({"S": "-20"}) is not first["amount"]  # the type is part of the value
    assert pool.typed({"N": "-20.0"}) is not first["amount"]  # and so is its text: stored as it was written
    assert pool.shared == len(SAME)


@pytest.fixture
def ledger():
    with pytest.MonkeyPatch.context() as environment, mock_aws():
        environment.delenv("AWS_ENDPOINT_URL", raising=False)  # this process's moto, not the session's emulator
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="testing",
                                aws_secret_access_key="testing")  # fmt: skip
        dynamodb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
            BillingMode="PAY_PER_REQUEST",
        )
        for index in range(3):
            item = {"pk": {"S": "popug-1"}, "sk": {"S": f"tx-{index}"}, **SAME, **CONTAINERS}
            dynamodb.put_item(TableName="ledger", Item=item)
        dynamodb.create_backup(TableName="ledger", BackupName="after-close")
        yield dynamodb


def _items(name: str) -> list:
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    return [item for stored in backend.tables[name].items.values() for item in stored.values()]


def _backup_items() -> list:
    from moto.dynamodb.models import dynamodb_backends

    (backup,) = dynamodb_backends["123456789012"]["us-east-1"].backups.values()
    return [item for stored in backup.table.items.values() for item in stored.values()]


def test_a_snapshot_shares_equal_scalars_of_tables_and_backups_and_pickles_them_once(ledger) -> None:
    shared = moto_values.share_equal_values()
    items, copies = _items("ledger"), _backup_items()
    every = items + copies
    for name in ("account", "amount", "paid", "note"):
        assert len({id(item.attrs[name]) for item in every}) == 1
    assert len({id(item.attrs["pk"]) for item in every}) == 1 and items[0].hash_key is items[1].attrs["pk"]
    for name in CONTAINERS:  # (a backup may hold the very items of its table: devstack.moto_backups)
        assert len({id(item.attrs[name]) for item in items}) == len(items)
    assert items[0].attrs["account"] is items[0].attrs["pk"]  # equal values, whatever the attribute
    assert shared >= 5 * (len(items) - 1)  # and the keys moto keeps beside the attributes

    built = pickle.loads(pickle.dumps([item.attrs for item in items]))
    assert built[0]["amount"] is built[2]["amount"] and built[0]["amount"].value == "-20"


def test_an_update_of_one_item_leaves_the_items_sharing_its_values_as_they_were(ledger) -> None:
    moto_values.share_equal_values()
    before = ledger.get_item(TableName="ledger", Key={"pk": {"S": "popug-1"}, "sk": {"S": "tx-1"}})["Item"]
    ledger.update_item(
        TableName="ledger",
        Key={"pk": {"S": "popug-1"}, "sk": {"S": "tx-0"}},
        UpdateExpression="SET account = :other, meta.#by = :other, #log[0] = :other, paid = :no "
        "REMOVE note ADD amount :one, tags :more, counts :two",
        ExpressionAttributeNames={"#by": "by", "#log": "log"},
        ExpressionAttributeValues={
            ":other": {"S": "popug-2"}, ":no": {"BOOL": False}, ":one": {"N": "1"},
            ":more": {"SS": ["b"]}, ":two": {"NS": ["2"]},
        },
    )  # fmt: skip
    updated = ledger.get_item(TableName="ledger", Key={"pk": {"S": "popug-1"}, "sk": {"S": "tx-0"}})["Item"]
    assert updated["amount"] == {"N": "-19"} and updated["tags"]["SS"] == ["a", "b"] and "note" not in updated
    for key in ("tx-1", "tx-2"):
        other = ledger.get_item(TableName="ledger", Key={"pk": {"S": "popug-1"}, "sk": {"S": key}})["Item"]
        assert other == {**before, "sk": {"S": key}}
    assert all(item.attrs["amount"].value == "-20" for item in _backup_items())
    assert all(item.attrs["tags"].value == ["a"] for item in _backup_items())


def test_a_snapshot_file_holds_each_equal_scalar_once(ledger, tmp_path) -> None:
    path = tmp_path / "snapshot-1.pickle"
    snapshot.write_snapshot(path)
    with open(path, "rb") as handle:
        image = pickle.load(handle)
    backend = image[("moto.dynamodb.models", "dynamodb_backends")]["123456789012"]["us-east-1"]
    items = [item for stored in backend.tables["ledger"].items.values() for item in stored.values()]
    assert len({id(item.attrs["amount"]) for item in items}) == 1
    assert [item.attrs["amount"].value for item in items] == ["-20"] * 3
    # every value comes back as the DynamoType it was, nested ones too (rebuilt by snapshot._dynamo_value)
    scalars = {name: (value.type, value.value) for name, value in items[0].attrs.items() if name not in CONTAINERS}
    assert scalars == {
        name: next(iter(raw.items())) for name, raw in {"pk": {"S": "popug-1"}, "sk": {"S": "tx-0"}, **SAME}.items()
    }
    assert items[0].attrs["tags"] == DynamoType({"SS": ["a"]}) and items[0].attrs["counts"] == DynamoType({"NS": ["1"]})
    assert items[0].attrs["meta"].value["by"] == DynamoType({"S": "x"}) and items[0].attrs["log"].value == [
        DynamoType({"S": "x"})
    ]


def test_a_copy_of_an_item_shares_its_scalars_and_owns_its_sets_lists_and_maps(ledger) -> None:
    moto_values.install_shared_copies()
    item = _items("ledger")[0]
    copied = copy.deepcopy(item)
    assert copied is not item and copied.attrs is not item.attrs and copied.hash_key is item.hash_key
    assert all(copied.attrs[name] is item.attrs[name] for name in ("pk", "sk", *SAME))
    assert all(copied.attrs[name] is not item.attrs[name] for name in CONTAINERS)
    assert copied.attrs["meta"].value["by"] is item.attrs["meta"].value["by"]  # a scalar inside a map too
    assert copied.to_json() == item.to_json()
    item.attrs["tags"].value.append("b")  # what ADD to a set does, in place
    item.attrs["meta"].value["by"] = DynamoType({"S": "y"})
    assert copied.attrs["tags"].value == ["a"] and copied.attrs["meta"].value["by"].value == "x"


def test_old_images_and_cancelled_transactions_keep_every_value_as_it_was(ledger) -> None:
    """What the shared copies serve: moto's copy of an updated item is its stream record's old image, and
    devstack's copy in a transaction is what a cancelled one puts back."""
    moto_values.install_shared_copies()
    moto_patches.apply()
    streamed = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    ledger.update_table(TableName="ledger", StreamSpecification=streamed)
    key = {"pk": {"S": "popug-1"}, "sk": {"S": "tx-0"}}
    before = ledger.get_item(TableName="ledger", Key=key)["Item"]
    change = {
        "UpdateExpression": "SET account = :other, meta.#by = :other, #log[0] = :other ADD amount :one, tags :more",
        "ExpressionAttributeNames": {"#by": "by", "#log": "log"},
        "ExpressionAttributeValues": {":other": {"S": "popug-2"}, ":one": {"N": "1"}, ":more": {"SS": ["b"]}},
    }
    refused = {"ConditionCheck": {"TableName": "ledger", "Key": {**key, "sk": {"S": "tx-1"}},
                                  "ConditionExpression": "attribute_not_exists(pk)"}}  # fmt: skip
    with pytest.raises(ledger.exceptions.TransactionCanceledException):
        ledger.transact_write_items(TransactItems=[{"Update": {"TableName": "ledger", "Key": key, **change}}, refused])
    assert ledger.get_item(TableName="ledger", Key=key)["Item"] == before

    ledger.update_item(TableName="ledger", Key=key, **change)
    from moto.dynamodb.models import dynamodb_backends

    (record,) = dynamodb_backends["123456789012"]["us-east-1"].tables["ledger"].stream_shard.items
    assert record.record["dynamodb"]["OldImage"] == before
    assert record.record["dynamodb"]["NewImage"] == ledger.get_item(TableName="ledger", Key=key)["Item"] != before
