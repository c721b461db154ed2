"""Thin helpers over the low-level DynamoDB client: typed (de)serialisation and one transaction writer.

The low-level client is used (not the resource API) because `TransactWriteItems` only exists there,
and every state change here goes through a transaction together with its outbox item.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shared.aws import client

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

# DynamoDB's limit on one TransactWriteItems (100 since 2022; moto 5.2.5 enforces the same, with AWS's
# ValidationException at 101). Fewer, fuller transactions are what keep a shuffle's calls per task low.
MAX_TRANSACTION_ACTIONS = 100


@cache
def _serializer() -> TypeSerializer:
    # boto3 is imported with the first client (shared.aws), not when a handler module is: importing
    # `boto3.dynamodb.types` imports all of boto3, a bare `import boto3`'s whole cost.
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer  # with the first client, as `_serializer`

    return TypeDeserializer()


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    serialize = _serializer().serialize
    return {k: serialize(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    deserialize = _deserializer().deserialize
    return {k: _plain(deserialize(v)) for k, v in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; everything stored here is an integer."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return {_plain(v) for v in value}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def put(table: str, item: Mapping[str, Any], *, condition: str | None = None, **expr: Any) -> dict[str, Any]:
    """A `Put` action for `TransactWriteItems`."""
    action: dict[str, Any] = {"TableName": table, "Item": to_item(item)}
    if condition:
        action["ConditionExpression"] = condition
    action.update(_expression(**expr))
    return {"Put": action}


def update(table: str, pk: str, sk: str, expression: str, *, condition: str | None = None, **expr: Any) -> dict:
    action: dict[str, Any] = {"TableName": table, "Key": key(pk, sk), "UpdateExpression": expression}
    if condition:
        action["ConditionExpression"] = condition
    action.update(_expression(**expr))
    return {"Update": action}


def delete(table: str, pk: str, sk: str, *, condition: str | None = None, **expr: Any) -> dict[str, Any]:
    action: dict[str, Any] = {"TableName": table, "Key": key(pk, sk)}
    if condition:
        action["ConditionExpression"] = condition
    action.update(_expression(**expr))
    return {"Delete": action}


def _expression(names: Mapping[str, str] | None = None, values: Mapping[str, Any] | None = None) -> dict:
    out: dict[str, Any] = {}
    if names:
        out["ExpressionAttributeNames"] = dict(names)
    if values:
        serialize = _serializer().serialize
        out["ExpressionAttributeValues"] = {k: serialize(v) for k, v in values.items()}
    return out


def transact(actions: Iterable[dict[str, Any]], failures: Mapping[int, Exception] | None = None) -> None:
    """Commit actions atomically.

    When the condition of action `i` fails and `failures[i]` is given, that exception is raised (a
    domain error such as "email taken"); otherwise the `TransactionCanceledException` propagates.
    """
    actions = list(actions)
    if not actions:
        return
    if len(actions) > MAX_TRANSACTION_ACTIONS:
        raise ValueError(f"{len(actions)} actions exceed one transaction ({MAX_TRANSACTION_ACTIONS})")
    try:
        client("dynamodb").transact_write_items(TransactItems=actions)
    except ClientError as error:
        for index, code in enumerate(cancellation_codes(error)):
            if code == "ConditionalCheckFailed" and failures and index in failures:
                raise failures[index] from None
        raise


def batch_get(table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consistent reads of any number of items, 100 per call (more calls only for what DynamoDB leaves
    unprocessed), as plain values."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {table: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
        while request:
            response = client("dynamodb").batch_get_item(RequestItems=request)
            found += [from_item(i) for i in response.get("Responses", {}).get(table, [])]
            request = response.get("UnprocessedKeys") or {}
    return found


def get(
    table: str, pk: str, sk: str, *, consistent: bool = True, attributes: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    """One item (only `attributes`, when given, and its key; None when there is none)."""
    params: dict[str, Any] = {"TableName": table, "Key": key(pk, sk), "ConsistentRead": consistent}
    if attributes:
        names = {f"#a{i}": name for i, name in enumerate(("pk", *attributes))}
        params.update(ProjectionExpression=", ".join(names), ExpressionAttributeNames=names)
    item = client("dynamodb").get_item(**params).get("Item")
    return from_item(item) if item else None


def cancellation_codes(error: Exception) -> list[str]:
    """Per-action reasons of a cancelled transaction ('None' where that action was fine)."""
    response = getattr(error, "response", {}) or {}
    return [reason.get("Code", "None") for reason in response.get("CancellationReasons", [])]
