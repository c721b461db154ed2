"""The emulator's Query and Scan answer exactly what moto's own answer, on randomized tables and writes.

devstack/moto_dynamodb_index.py keeps every table and index sorted by partition so a Query reads only
its page (SPEC R-LOC-2); moto 5.2.5 reads the whole table. Here hypothesis draws a table (hash or
hash+range key of type S, N or B, GSIs with and without a range key, an LSI, every projection type),
writes to it (puts, deletes, updates that add, move or remove index keys, batch writes, transactions
that commit and transactions that are cancelled and rolled back), then queries the table and every
index with every key condition, Limit, ScanIndexForward both ways, filters, projections and
ExclusiveStartKey, paging through to the end, and asks each question twice on the same data: once
answered by the sorted partitions, once by moto's own Table.query. The two responses must be equal,
byte for byte (items, order, Count, ScannedCount, LastEvaluatedKey, errors). The same for a Scan of
the table, page by page (moto scans in key order; devstack starts a page at its start key).

moto runs in this process (mock_aws), patched as the emulator patches it: no server to start.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from devstack import moto_dynamodb_index, moto_patches

POOLS: dict[str, list[Any]] = {
    "S": ["a", "ab", "abc", "b", "ba", "bb", "c", "é"],
    "N": ["-1", "0", "1", "1.5", "2", "10", "100"],
    "B": [b"\x00", b"a", b"ab", b"b", b"\x7f", b"\xff"],
}
OPERATORS = ["=", "<", "<=", ">", ">=", "BETWEEN", "begins_with"]
PAD = "x" * 300_000  # three of these pass the 1 MB page size


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    from moto import mock_aws

    moto_patches.apply()
    chunk = moto_dynamodb_index._CHUNK
    moto_dynamodb_index._CHUNK = 2  # partitions of a few items split into chunks, as big ones do
    try:
        with pytest.MonkeyPatch.context() as environment, mock_aws():
            # in this process: not the session's emulator, whose moto this module's switch does not reach
            environment.delenv("AWS_ENDPOINT_URL", raising=False)
            yield boto3.client(
                "dynamodb", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
            )
    finally:
        moto_dynamodb_index._CHUNK = chunk


# --------------------------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------------------------


@st.composite
def shapes(draw: st.DrawFn) -> dict[str, Any]:
    types = st.sampled_from(["S", "N", "B"])
    shape: dict[str, Any] = {"hash": ("pk", draw(types)), "range": None, "indexes": []}
    if draw(st.booleans()):
        shape["range"] = ("sk", draw(types))
    for number in range(draw(st.integers(0, 2))):
        # sometimes an inverted index: the table's sort key as the partition key
        inverted = shape["range"] and draw(st.booleans())
        index_hash = shape["range"] if inverted else (f"g{number}h", draw(types))
        index_range = (f"g{number}r", draw(types)) if draw(st.booleans()) else None
        shape["indexes"].append(("GSI", f"gsi{number}", index_hash, index_range, draw(_projections())))
    if shape["range"] and draw(st.booleans()):
        shape["indexes"].append(("LSI", "lsi", shape["hash"], ("lr", draw(types)), draw(_projections())))
    return shape


def _projections() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(
        [
            {"ProjectionType": "ALL"},
            {"ProjectionType": "KEYS_ONLY"},
            {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["p"]},
        ]
    )


def _value(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    return {kind: draw(st.sampled_from(POOLS[kind]))}


def _key(draw: st.DrawFn, shape: dict[str, Any]) -> dict[str, Any]:
    key = {shape["hash"][0]: _value(draw, shape["hash"][1])}
    if shape["range"]:
        key[shape["range"][0]] = _value(draw, shape["range"][1])
    return key


def _index_attributes(shape: dict[str, Any]) -> dict[str, str]:
    table_keys = {shape["hash"][0], shape["range"][0] if shape["range"] else None}
    found = {}
    for _, _, index_hash, index_range, _ in shape["indexes"]:
        for attribute in (index_hash, index_range):
            if attribute and attribute[0] not in table_keys:
                found[attribute[0]] = attribute[1]
    return found


def _item(draw: st.DrawFn, shape: dict[str, Any], big: bool) -> dict[str, Any]:
    item = _key(draw, shape)
    for name, kind in _index_attributes(shape).items():
        if draw(st.integers(0, 3)):  # a quarter of the items lack each index key: not in that index
            item[name] = _value(draw, kind)
    item["p"] = {"N": str(draw(st.integers(0, 9)))}
    if big and draw(st.integers(0, 4)) == 0:
        item["pad"] = {"S": PAD}
    return item


@st.composite
def operations(draw: st.DrawFn, shape: dict[str, Any], big: bool) -> list[tuple[str, Any]]:
    index_attributes = sorted(_index_attributes(shape).items())
    found: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(3, 16))):
        kind = draw(st.sampled_from(["put", "put", "put", "delete", "update", "batch", "transaction"]))
        if kind == "put":
            found.append(("put", _item(draw, shape, big)))
        elif kind == "delete":
            found.append(("delete", _key(draw, shape)))
        elif kind == "update":
            name, attribute_kind = draw(st.sampled_from([*index_attributes, ("p", "N")]))
            value = None if draw(st.integers(0, 3)) == 0 else _value(draw, attribute_kind)  # None: REMOVE
            found.append(("update", (_key(draw, shape), name, value)))
        elif kind == "batch":
            requests = []
            for _ in range(draw(st.integers(1, 5))):
                if draw(st.booleans()):
                    requests.append({"PutRequest": {"Item": _item(draw, shape, big)}})
                else:
                    requests.append({"DeleteRequest": {"Key": _key(draw, shape)}})
            found.append(("batch", requests))
        else:
            actions = []
            for _ in range(draw(st.integers(1, 4))):
                action = draw(st.sampled_from(["put", "update", "delete"]))
                if action == "put":
                    actions.append(("put", _item(draw, shape, False)))
                elif action == "delete":
                    actions.append(("delete", _key(draw, shape)))
                else:
                    name, attribute_kind = draw(st.sampled_from([*index_attributes, ("p", "N")]))
                    actions.append(("update", (_key(draw, shape), name, _value(draw, attribute_kind))))
            found.append(("transaction", (actions, draw(st.booleans()))))
    return found


@st.composite
def queries(draw: st.DrawFn, shape: dict[str, Any]) -> list[dict[str, Any]]:
    views: list[tuple[str | None, tuple[str, str], tuple[str, str] | None]] = [(None, shape["hash"], shape["range"])]
    views += [(name, index_hash, index_range) for _, name, index_hash, index_range, _ in shape["indexes"]]
    found = []
    for _ in range(draw(st.integers(2, 6))):
        index_name, (hash_name, hash_kind), range_key = draw(st.sampled_from(views))
        names = {"#h": hash_name}
        values = {":h": _value(draw, hash_kind)}
        condition = "#h = :h"
        if range_key and draw(st.integers(0, 4)):
            range_name, range_kind = range_key
            operator = draw(st.sampled_from(OPERATORS if range_kind != "N" else OPERATORS[:-1]))
            names["#r"] = range_name
            values[":a"] = _value(draw, range_kind)
            if operator == "BETWEEN":
                values[":b"] = _value(draw, range_kind)
                condition += " AND #r BETWEEN :a AND :b"
            elif operator == "begins_with":
                condition += " AND begins_with(#r, :a)"
            else:
                condition += f" AND #r {operator} :a"
        request: dict[str, Any] = {"KeyConditionExpression": condition, "ScanIndexForward": draw(st.booleans())}
        if index_name:
            request["IndexName"] = index_name
        limit = draw(st.sampled_from([None, 1, 2, 3, 5]))
        if limit:
            request["Limit"] = limit
        if draw(st.integers(0, 3)) == 0:
            request["FilterExpression"] = "p > :f"
            values[":f"] = {"N": str(draw(st.integers(0, 9)))}
        if draw(st.integers(0, 3)) == 0:
            request["ProjectionExpression"] = "#h, p"
        if draw(st.integers(0, 5)) == 0:  # a start key that no page returned (it may not even exist)
            start = _key(draw, shape) | {hash_name: values[":h"]}
            if range_key:
                start[range_key[0]] = _value(draw, range_key[1])
            request["ExclusiveStartKey"] = start
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values
        found.append(request)
    return found


@st.composite
def scans(draw: st.DrawFn) -> dict[str, Any]:
    request: dict[str, Any] = {}
    limit = draw(st.sampled_from([None, 1, 2, 3, 5]))
    if limit:
        request["Limit"] = limit
    if draw(st.booleans()):
        request["FilterExpression"] = "p > :f"
        request["ExpressionAttributeValues"] = {":f": {"N": str(draw(st.integers(0, 9)))}}
    if draw(st.booleans()):
        request["ProjectionExpression"] = "p"
    return request


# --------------------------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------------------------

_tables = iter(range(10**9))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(data=st.data())
def test_query_answers_as_moto_does(dynamodb: Any, data: st.DataObject) -> None:
    shape = data.draw(shapes(), label="shape")
    big = data.draw(st.integers(0, 9), label="big items") == 0
    table = _create(dynamodb, shape)
    try:
        for round_number in range(2):  # queries between writes: the partitions must follow every write
            for operation in data.draw(operations(shape, big), label=f"writes {round_number}"):
                _write(dynamodb, table, shape, operation)
            for request in data.draw(queries(shape), label=f"queries {round_number}"):
                _compare_pages(dynamodb, table, request)
            _compare_pages(dynamodb, table, data.draw(scans(), label=f"scan {round_number}"), "scan")
        described = dynamodb.describe_table(TableName=table)["Table"]["ItemCount"]
        assert described == len(_scan(dynamodb, table)), "DescribeTable's ItemCount counts the items"
    finally:
        dynamodb.delete_table(TableName=table)


def test_the_partitions_answer_queries(dynamodb: Any) -> None:
    """The comparison above is only worth something if the fast path answers (not moto, twice)."""
    shape = {
        "hash": ("pk", "S"),
        "range": ("sk", "N"),
        "indexes": [("GSI", "gsi0", ("g0h", "S"), ("g0r", "N"), {"ProjectionType": "ALL"})],
    }
    table = _create(dynamodb, shape)
    try:
        dynamodb.put_item(
            TableName=table, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "g0h": {"S": "b"}, "g0r": {"N": "2"}}
        )
        before = dict(moto_dynamodb_index.answered)
        for index in ({}, {"IndexName": "gsi0"}):
            hash_name = "g0h" if index else "pk"
            dynamodb.query(
                TableName=table,
                KeyConditionExpression="#h = :h",
                ExpressionAttributeNames={"#h": hash_name},
                ExpressionAttributeValues={":h": {"S": "b" if index else "a"}},
                **index,
            )
        assert moto_dynamodb_index.answered["fast"] == before["fast"] + 2
        assert moto_dynamodb_index.answered["moto"] == before["moto"]
    finally:
        dynamodb.delete_table(TableName=table)


def _create(dynamodb: Any, shape: dict[str, Any]) -> str:
    name = f"q{next(_tables)}"
    key_schema = [{"AttributeName": shape["hash"][0], "KeyType": "HASH"}]
    attributes = {shape["hash"][0]: shape["hash"][1]}
    if shape["range"]:
        key_schema.append({"AttributeName": shape["range"][0], "KeyType": "RANGE"})
        attributes[shape["range"][0]] = shape["range"][1]
    extra: dict[str, Any] = {}
    for kind, index_name, index_hash, index_range, projection in shape["indexes"]:
        schema = [{"AttributeName": index_hash[0], "KeyType": "HASH"}]
        attributes[index_hash[0]] = index_hash[1]
        if index_range:
            schema.append({"AttributeName": index_range[0], "KeyType": "RANGE"})
            attributes[index_range[0]] = index_range[1]
        member = "GlobalSecondaryIndexes" if kind == "GSI" else "LocalSecondaryIndexes"
        extra.setdefault(member, []).append({"IndexName": index_name, "KeySchema": schema, "Projection": projection})
    dynamodb.create_table(
        TableName=name,
        KeySchema=key_schema,
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return name


def _write(dynamodb: Any, table: str, shape: dict[str, Any], operation: tuple[str, Any]) -> None:
    kind, detail = operation
    if kind == "put":
        dynamodb.put_item(TableName=table, Item=detail)
    elif kind == "delete":
        dynamodb.delete_item(TableName=table, Key=detail)
    elif kind == "update":
        key, name, value = detail
        if value is None:
            dynamodb.update_item(
                TableName=table, Key=key, UpdateExpression="REMOVE #a", ExpressionAttributeNames={"#a": name}
            )
        else:
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #a = :v",
                ExpressionAttributeNames={"#a": name},
                ExpressionAttributeValues={":v": value},
            )
    elif kind == "batch":
        unique: dict[str, Any] = {}
        for request in detail:  # BatchWriteItem refuses two requests for one key
            body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
            key = {name: body[name] for name in (shape["hash"][0], shape["range"] and shape["range"][0]) if name}
            unique[repr(sorted(key.items()))] = request
        dynamodb.batch_write_item(RequestItems={table: list(unique.values())})
    else:
        steps, cancelled = detail
        actions: list[dict[str, Any]] = []
        seen = set()
        for step, body in steps:
            key = body[0] if step == "update" else body
            key = {name: key[name] for name in (shape["hash"][0], shape["range"] and shape["range"][0]) if name}
            if repr(sorted(key.items())) in seen:
                continue  # TransactWriteItems refuses two actions on one item
            seen.add(repr(sorted(key.items())))
            if step == "put":
                actions.append({"Put": {"TableName": table, "Item": body}})
            elif step == "delete":
                actions.append({"Delete": {"TableName": table, "Key": key}})
            else:
                _, name, value = body
                actions.append(
                    {
                        "Update": {
                            "TableName": table,
                            "Key": key,
                            "UpdateExpression": "SET #a = :v",
                            "ExpressionAttributeNames": {"#a": name},
                            "ExpressionAttributeValues": {":v": value},
                        }
                    }
                )
        if cancelled:  # the last action fails: everything before it is rolled back
            check = {"TableName": table, "Key": _absent_key(shape), "ConditionExpression": "attribute_exists(p)"}
            actions.append({"ConditionCheck": check})
        try:
            dynamodb.transact_write_items(TransactItems=actions)
        except ClientError as error:
            assert cancelled and error.response["Error"]["Code"] == "TransactionCanceledException", error


def _absent_key(shape: dict[str, Any]) -> dict[str, Any]:
    """A key no item has (its values are outside the pools): the condition fails, the transaction is cancelled."""
    outside = {"S": {"S": "zzz-none"}, "N": {"N": "999999"}, "B": {"B": b"\x01\x02\x03"}}
    key = {shape["hash"][0]: outside[shape["hash"][1]]}
    if shape["range"]:
        key[shape["range"][0]] = outside[shape["range"][1]]
    return key


def _compare_pages(dynamodb: Any, table: str, request: dict[str, Any], operation: str = "query") -> None:
    request = {"TableName": table, **request}
    for _ in range(200):
        fast = _ask(dynamodb, request, fast=True, operation=operation)
        moto = _ask(dynamodb, request, fast=False, operation=operation)
        note(f"{request} -> {fast}")
        assert fast == moto, f"{request}\nsorted partitions: {fast}\nmoto: {moto}"
        if "LastEvaluatedKey" not in fast:
            return
        request = {**request, "ExclusiveStartKey": fast["LastEvaluatedKey"]}
    raise AssertionError("no last page after 200 pages")


def _ask(dynamodb: Any, request: dict[str, Any], fast: bool, operation: str) -> dict[str, Any]:
    answered = dict(moto_dynamodb_index.answered)
    moto_dynamodb_index.fast_queries = fast
    try:
        response = getattr(dynamodb, operation)(**request)
    except ClientError as error:
        return {"error": error.response["Error"]}
    finally:
        moto_dynamodb_index.fast_queries = True
    path = "fast" if fast else "moto"
    assert moto_dynamodb_index.answered[path] == answered[path] + 1, f"not answered by {path} in this process"
    response.pop("ResponseMetadata", None)
    for item in response.get("Items", []):
        for value in item.values():
            if "B" in value:
                value["B"] = base64.b64encode(value["B"]).decode()
    return response


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**request)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
