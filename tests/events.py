"""Builders of the messages consumers receive: our envelope inside an EventBridge event inside SQS."""

from __future__ import annotations

import json
import uuid
from typing import Any


def bridge(envelope: Any, *, with_account: bool = True) -> dict[str, Any]:
    """The EventBridge event around an envelope, as AWS (with `account`) or moto (without) delivers it."""
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": envelope.event_name,
        "source": envelope.producer,
        "time": "2026-11-27T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": envelope.model_dump(mode="json"),
    }
    if with_account:
        event["account"] = "123456789012"
    return event


def sqs_event(*bodies: dict[str, Any]) -> dict[str, Any]:
    """A Lambda SQS event carrying these message bodies."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def deliver(handler: Any, *envelopes: Any) -> dict[str, Any]:
    """Deliver envelopes to a consumer's `lambda_handler` in one SQS batch."""
    return handler(sqs_event(*(bridge(e) for e in envelopes)), None)
