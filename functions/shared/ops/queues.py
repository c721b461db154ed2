"""The consumers' queues as operations sees them: what waits in each dead-letter queue, and moving it back
(R-EV-4). The consumers are named in CONSUMER_QUEUES (set by the template), so this module knows no
context: `{"<Consumer>": {"queue": "<source url>", "dead_letter_queue": "<dlq url>"}}`.

Peeking receives with a zero visibility timeout, so looking changes nothing for the messages. Redriving
is receive, send to the source queue, delete (SQS's StartMessageMoveTask would do the same in AWS, but
the local emulator lacks it, and one code path serves both); a redriven event goes through its consumer's
inbox, so one that was applied meanwhile changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared import settings
from shared.aws import client

PEEK_MAX = 20
REDRIVE_SECONDS = 20  # within the API's timeout; a redrive of more is simply pressed again


@dataclass(frozen=True)
class OpsSettings:
    consumer_queues: str = "{}"


@cache
def consumers() -> dict[str, dict[str, str]]:
    return json.loads(settings.load(OpsSettings).consumer_queues)


def waiting(queue_url: str) -> int:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def peek(queue_url: str, limit: int = PEEK_MAX) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(-(-limit // 10)):
        response = client("sqs").receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0,
            AttributeNames=["All"], MessageAttributeNames=["All"],
        )  # fmt: skip
        fresh = [m for m in response.get("Messages", []) if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update({m["MessageId"]: describe(m) for m in fresh})
    return list(seen.values())[:limit]


def describe(message: dict[str, Any]) -> dict[str, Any]:
    """A dead letter for people: which event, why it failed, how often it was tried."""
    reason = {k: v.get("StringValue") for k, v in (message.get("MessageAttributes") or {}).items()}
    try:
        event = json.loads(message["Body"])
        if isinstance(event, dict) and isinstance(event.get("DDBStreamBatchInfo"), dict):
            return _stream_failure(message["MessageId"], event)
        envelope = event.get("detail") if isinstance(event, dict) else None
        envelope = json.loads(envelope) if isinstance(envelope, str) else envelope
    except ValueError:
        envelope = None
    envelope = envelope if isinstance(envelope, dict) else {}
    attempts = reason.get("attempts") or (message.get("Attributes") or {}).get("ApproximateReceiveCount")
    return {
        "message_id": message["MessageId"], "event_id": envelope.get("event_id"),
        "event_name": envelope.get("event_name"), "event_version": envelope.get("event_version"),
        "producer": envelope.get("producer"), "correlation_id": envelope.get("correlation_id"),
        "event_time": envelope.get("event_time"), "data": envelope.get("data"),
        "error": reason.get("error") or "unknown: moved by the queue's redrive policy (a crash or a timeout)",
        "attempts": int(attempts) if attempts else None, "failed_at": reason.get("failed_at"),
        "body": None if envelope else message["Body"][:2000],
    }  # fmt: skip


def _stream_failure(message_id: str, failure: dict[str, Any]) -> dict[str, Any]:
    """A stream batch its function gave up on (Lambda's failure record, R-SEC-4): which table's records, how
    many, and why; a redrive replays them from the stream (shared.events.stream_replay)."""
    info, request = failure["DDBStreamBatchInfo"], failure.get("requestContext") or {}
    response = failure.get("responseContext") or {}
    table = str(info.get("streamArn", "")).split(":table/", 1)[-1].split("/stream/", 1)[0]
    why = response.get("functionError") or f"status {response.get('statusCode', '?')}"
    return {
        "message_id": message_id, "event_id": None, "event_name": "Stream batch", "event_version": None,
        "producer": table or None, "correlation_id": None, "event_time": info.get("approximateArrivalOfFirstRecord"),
        "data": {"records": info.get("batchSize"), "shard_id": info.get("shardId"),
                 "first_sequence_number": info.get("startSequenceNumber"),
                 "last_sequence_number": info.get("endSequenceNumber"), "stream_arn": info.get("streamArn")},
        "error": f"{request.get('condition', 'given up')}: {why}",
        "attempts": request.get("approximateInvokeCount"), "failed_at": failure.get("timestamp"), "body": None,
    }  # fmt: skip


def redrive(dead_letter_queue: str, source_queue: str) -> int:
    """Move what waits in the dead-letter queue back to its source queue, for a bounded time."""
    sqs, moved = client("sqs"), 0
    deadline = time.monotonic() + REDRIVE_SECONDS
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=dead_letter_queue, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        ).get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=source_queue, Entries=entries)
        ok = {int(s["Id"]) for s in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": messages[i]["ReceiptHandle"]} for i in sorted(ok)]
        if done:
            sqs.delete_message_batch(QueueUrl=dead_letter_queue, Entries=done)
        moved += len(done)
        if len(ok) < len(messages):  # the rest stays dead-lettered: press again
            break
    return moved
