"""Outbox relay: DynamoDB stream of a context's table -> EventBridge `PutEvents` (batches of 10).

Only outbox INSERTs reach it (the template filters the stream). Failed entries are retried a few times;
if some still fail, the first stream record holding one is reported as the batch item failure, so
Lambda retries from there: events after it may be published twice, never lost (consumers de-duplicate
by `event_id`). A restore never republishes old events: it never writes OUTBOX# items back (shared/ops/restore.py).
"""

from __future__ import annotations

import time
from typing import Any

from shared import settings
from shared.aws import client
from shared.contracts import Envelope
from shared.events.outbox import events_of
from shared.events.stream_replay import replays_stream
from shared.observability import logger

PUT_EVENTS_BATCH = 10
RETRIES = 3


@replays_stream("OUTBOX#")  # also replays batches given up on, from the replay queue (R-SEC-4)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bus = settings.load(settings.EventSettings).event_bus_name
    pending: list[tuple[str, Envelope]] = []  # (sequence number of its stream record, event)
    for record in event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage")
        if record.get("eventName") != "INSERT" or not image or "events" not in image:
            continue
        sequence = record["dynamodb"]["SequenceNumber"]
        pending.extend((sequence, envelope) for envelope in events_of(image))

    failed = publish(bus, pending)
    if failed:
        first = min(failed, key=int)
        logger.error("events still failing after retries; the stream retries from here", sequence=first)
        return {"batchItemFailures": [{"itemIdentifier": first}]}
    logger.info("relayed events", count=len(pending))
    return {"batchItemFailures": []}


def publish(bus: str, pending: list[tuple[str, Envelope]]) -> set[str]:
    """Publish in batches; return the sequence numbers of records whose events could not be published."""
    failed: set[str] = set()
    for start in range(0, len(pending), PUT_EVENTS_BATCH):
        batch = pending[start : start + PUT_EVENTS_BATCH]
        for attempt in range(RETRIES):
            batch = _put(bus, batch)
            if not batch:
                break
            time.sleep(0.05 * 2**attempt)
        failed.update(sequence for sequence, _ in batch)
    return failed


def _put(bus: str, batch: list[tuple[str, Envelope]]) -> list[tuple[str, Envelope]]:
    """One `PutEvents` call; returns the entries that failed (by position, as EventBridge reports them)."""
    entries = [
        {
            "EventBusName": bus,
            "Source": envelope.producer,
            "DetailType": envelope.event_name,
            "Detail": envelope.model_dump_json(),
            "Time": envelope.event_time,
        }
        for _, envelope in batch
    ]
    try:
        response = client("events").put_events(Entries=entries)
    except Exception:
        logger.exception("PutEvents failed as a whole", entries=len(entries))
        return batch
    if not response.get("FailedEntryCount"):
        return []
    results = response.get("Entries", [])
    return [item for item, result in zip(batch, results, strict=False) if result.get("ErrorCode")]
