"""Landing (R-AN-1): every domain event of every context and version, one object in the lake each.

The object's key is the event's id (see `lake`), so a redelivered event overwrites itself and landing
needs no inbox. Each envelope is validated against the contract of its own version (the lake keeps
events as they were published; reading v1 as v2 is the tables' job). An event name or version that is
not registered is a poison message, never dropped: its record is reported failed, so after the queue's
tries it waits in the dead-letter queue, alarmed, until a contract exists for it and it is redriven.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from analytics import lake
from analytics.settings import get as settings
from shared.contracts import REGISTRY, Envelope
from shared.events.consumer import parse_record_body
from shared.observability import logger


def land(envelope: Envelope) -> str:
    """Validate one envelope against its registered version and put it in the lake; returns its key."""
    contract = REGISTRY.contract(envelope.event_name, envelope.event_version)  # UnknownEvent: poison
    if envelope.producer != contract.source:
        raise ValueError(f"{envelope.event_name} is produced by {contract.source}, not {envelope.producer}")
    contract.model.model_validate(envelope.data)
    key = lake.put_raw(settings().lake_bucket, envelope)
    logger.info("event landed", event_name=envelope.event_name, version=envelope.event_version, key=key)
    return key


def handle_record(record: SQSRecord) -> None:
    envelope = parse_record_body(record.body)
    logger.append_keys(correlation_id=envelope.correlation_id, event_id=str(envelope.event_id))
    land(envelope)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Failures are reported per record, even when all fail: one shape for the queue to act on.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(event=event, record_handler=handle_record, processor=processor)
