"""Saved metrics in analytics' own DynamoDB table (R-AN-6): one item per metric, and one marker item that
says the examples were put in once.

Items: `pk=METRIC#<id>, sk=METRIC` with the definition as JSON text (a metric is read and written whole),
and `pk=EXAMPLES, sk=EXAMPLES`. A handful of metrics, read together by the Board: the list is a Scan,
paged with the usual cursor. The examples go in on the first list of a fresh table, with the marker in the
same transaction under a condition, so two first visits at once seed them once, and a deleted example
stays deleted.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from analytics.metrics import EXAMPLES, MetricInput
from shared import clock, dynamo, pagination
from shared.aws import client
from shared.errors import NotFound

SK = "METRIC"
EXAMPLES_KEY = "EXAMPLES"


def _pk(metric_id: str) -> str:
    return f"METRIC#{metric_id}"


def _item(metric_id: str, metric: MetricInput, who: str, created: dict[str, Any] | None, now: datetime) -> dict:
    return {
        "pk": _pk(metric_id),
        "sk": SK,
        "metric_id": metric_id,
        "definition": metric.model_dump_json(),
        "created_by": (created or {}).get("created_by", who),
        "created_at": (created or {}).get("created_at", clock.iso(now)),
        "updated_by": who,
        "updated_at": clock.iso(now),
    }


def view(item: dict[str, Any]) -> dict[str, Any]:
    """A stored metric as the API shows it."""
    definition = json.loads(item["definition"])
    return {"metric_id": item["metric_id"], **definition,
            **{k: item[k] for k in ("created_by", "created_at", "updated_by", "updated_at")}}  # fmt: skip


def create(table: str, metric: MetricInput, who: str) -> dict[str, Any]:
    metric_id = str(uuid.uuid4())
    item = _item(metric_id, metric, who, None, clock.now())
    client("dynamodb").put_item(
        TableName=table, Item=dynamo.to_item(item), ConditionExpression="attribute_not_exists(pk)"
    )
    return view(item)


def get(table: str, metric_id: str) -> dict[str, Any]:
    item = dynamo.get(table, _pk(metric_id), SK)
    if item is None:
        raise NotFound(f"no saved metric {metric_id}; it may have been deleted")
    return item


def replace(table: str, metric_id: str, metric: MetricInput, who: str) -> dict[str, Any]:
    current = get(table, metric_id)
    item = _item(metric_id, metric, who, current, clock.now())
    try:
        client("dynamodb").put_item(
            TableName=table, Item=dynamo.to_item(item), ConditionExpression="attribute_exists(pk)"
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound(f"no saved metric {metric_id}; it was deleted meanwhile") from None
        raise
    return view(item)


def delete(table: str, metric_id: str) -> None:
    try:
        client("dynamodb").delete_item(
            TableName=table, Key=dynamo.key(_pk(metric_id), SK), ConditionExpression="attribute_exists(pk)"
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise NotFound(f"no saved metric {metric_id}") from None
        raise


def page(table: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """Saved metrics in the table's order (a Scan's), oldest first within a page. The cursor is the key
    of a page's last metric: the next Scan starts right after it."""
    seed_examples(table)
    params: dict[str, Any] = {"TableName": table, "FilterExpression": "sk = :sk",
                              "ExpressionAttributeValues": {":sk": {"S": SK}}}  # fmt: skip
    start = pagination.decode(cursor)
    items: list[dict[str, Any]] = []
    while len(items) <= limit:  # one more than the page: is there a next one?
        if start:
            params["ExclusiveStartKey"] = dynamo.to_item(start)
        response = client("dynamodb").scan(**params)
        items += [dynamo.from_item(raw) for raw in response.get("Items", [])]
        start = response.get("LastEvaluatedKey") and dynamo.from_item(response["LastEvaluatedKey"])
        if not start:
            break
    shown = items[:limit]
    last = {"pk": shown[-1]["pk"], "sk": shown[-1]["sk"]} if len(items) > limit else None
    shown.sort(key=lambda i: (i["created_at"], i["metric_id"]))
    return [view(i) for i in shown], pagination.encode(last)


def seed_examples(table: str) -> bool:
    """Put the example metrics in, once per table; True if this call did."""
    if dynamo.get(table, EXAMPLES_KEY, EXAMPLES_KEY, consistent=False) is not None:
        return False
    now = clock.now()
    marker = dynamo.put(table, {"pk": EXAMPLES_KEY, "sk": EXAMPLES_KEY, "at": clock.iso(now)},
                        condition="attribute_not_exists(pk)")  # fmt: skip
    actions = [marker] + [
        dynamo.put(table, _item(str(uuid.uuid4()), metric, "examples", None, now)) for metric in EXAMPLES
    ]
    try:
        dynamo.transact(actions)
    except ClientError as error:
        if "ConditionalCheckFailed" in dynamo.cancellation_codes(error):
            return False  # another first visit seeded them
        raise
    return True
