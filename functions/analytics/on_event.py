"""Landing (R-AN-1): every domain event of every context and version, in the lake as it was published.

A delivered batch lands as one object per raw partition (`lake.put_landed`): a single event keyed by its
id, several named by their bytes, so a redelivered batch overwrites itself and landing needs no inbox. The
queue's mapping batches up to a hundred events over two seconds (template.yaml), the way a lake is fed in
AWS (Firehose buffers too): a busy stack writes a few objects a batch instead of one per event, and the
packer, the queries and S3's bill see fewer objects. An event landed twice (a batch partly redelivered) is
in two objects; the logical tables read raw rows DISTINCT, as they do for at-least-once delivery.

Each envelope is validated against the contract of its own version (the lake keeps events as they were
published; reading v1 as v2 is the tables' job). An event name or version that is not registered is a
poison message, never dropped: its record is reported failed, so after the queue's tries it waits in the
dead-letter queue, alarmed, until a contract exists for it and it is redriven. A partition whose object
could not be written fails its records only.
"""

from __future__ import annotations

from typing import Any

from analytics import lake
from analytics.settings import get as settings
from shared.contracts import REGISTRY, Envelope
from shared.events.consumer import parse_record_body
from shared.observability import logger


def checked(envelope: Envelope) -> Envelope:
    """The envelope, once valid against its registered version (UnknownEvent or ValueError: poison)."""
    contract = REGISTRY.contract(envelope.event_name, envelope.event_version)
    if envelope.producer != contract.source:
        raise ValueError(f"{envelope.event_name} is produced by {contract.source}, not {envelope.producer}")
    contract.model.model_validate(envelope.data)
    return envelope


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Failures are reported per record, even when all fail: one shape for the queue to act on.
    failed: list[str] = []
    partitions: dict[str, dict[str, Envelope]] = {}  # partition -> event id -> envelope (a copy lands once)
    messages: dict[str, list[str]] = {}  # partition -> the message ids its object acknowledges
    for record in event.get("Records", []):
        try:
            envelope = checked(parse_record_body(record["body"]))
        except Exception:
            logger.exception("event not landed", message_id=record.get("messageId"))
            failed.append(record["messageId"])
            continue
        partition = lake.raw_partition(envelope)
        partitions.setdefault(partition, {}).setdefault(str(envelope.event_id), envelope)
        messages.setdefault(partition, []).append(record["messageId"])
    for partition, envelopes in partitions.items():
        try:
            key = lake.put_landed(settings().lake_bucket, list(envelopes.values()))
        except Exception:
            logger.exception("events not landed", partition=partition, events=len(envelopes))
            failed += messages[partition]
            continue
        logger.info("events landed", key=key, event_ids=list(envelopes))
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}
