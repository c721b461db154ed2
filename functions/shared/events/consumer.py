"""Consumer base for SQS-fed event handlers (R-EV-3).

Each record is an EventBridge event (AWS's envelope, or an emulator's without `account`); its `detail`
is our envelope. The envelope is validated against its version and upcast to the newest model, then
the context's handler returns the DynamoDB actions that apply it. Those actions commit in ONE
transaction with an inbox marker keyed by `event_id`: a redelivered event finds the marker and changes
nothing, and a crash between "applied" and "marked" cannot happen. Handlers write conditionally on
what they read (optimistic concurrency); when another writer got there first, the event is applied
again from fresh reads, a few times, before it is left to the queue's retry. Failures are reported per record
(partial batch response) so one poison event does not hold back the rest; `dead_letters` pauses it with
a growing backoff and, on its last attempt, puts it in the consumer's dead-letter queue with the reason.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from pydantic import BaseModel

from shared import clock, dynamo
from shared.contracts import REGISTRY, Envelope
from shared.events import dead_letters
from shared.observability import logger

Handler = Callable[[Envelope, Any], Iterable[dict[str, Any]]]
INBOX_TTL_SECONDS = 30 * 24 * 3600  # longer than any redelivery: SQS keeps a message 14 days at most
ATTEMPTS = 8  # applications of one event from fresh reads, when concurrent writers keep winning
RETRYABLE = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
DEADLINE_RESERVE_MS = 1500  # kept back for settling the batch's failures (dead letters, pauses) and returning


def parse_record_body(body: str) -> Envelope:
    """The envelope inside an SQS message body that holds an EventBridge event."""
    event = json.loads(body)
    detail = event.get("detail")
    if isinstance(detail, str):  # some senders double-encode the detail
        detail = json.loads(detail)
    if not isinstance(detail, dict):
        raise ValueError("message is not an EventBridge event: no `detail` object")
    return Envelope.model_validate(detail)


def _out_of_time(context: Any, slowest_ms: float) -> bool:
    """Would one more record (as slow as the slowest so far) and settling the failures overrun the function's
    timeout? Without a Lambda context (a direct call) there is no deadline."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining is not None and remaining() < slowest_ms + DEADLINE_RESERVE_MS


class Consumer:
    """`Consumer("auth.on_employee_hired", table, {"EmployeeHired": handler})` is a `lambda_handler`."""

    def __init__(self, name: str, table: Callable[[], str], handlers: dict[str, Handler]) -> None:
        self.name = name
        self._table = table
        self.handlers = handlers

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Every failure is reported per record, even when all fail: one shape for the queue to act on.
        failed: list[tuple[dict[str, Any], BaseException]] = []
        records = event.get("Records", [])
        slowest_ms = 0.0
        for index, record in enumerate(records):
            if _out_of_time(context, slowest_ms):
                # Timing out would return the WHOLE batch, applied records too; report only the rest.
                later = [r["messageId"] for r in records[index:]]
                logger.warning("near the function's timeout; the rest of the batch is left for later", left=len(later))
                retry = dead_letters.settle(self.name, failed) if failed else []
                return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in retry + later]}
            logger.remove_keys(["correlation_id", "event_id"])  # a warm worker must not lend the last record's
            started = time.monotonic()
            try:
                self.handle_record(SQSRecord(record))
            except Exception as error:
                logger.exception("event not applied", message_id=record.get("messageId"))
                failed.append((record, error))
            slowest_ms = max(slowest_ms, (time.monotonic() - started) * 1000)
        retry = dead_letters.settle(self.name, failed) if failed else []
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in retry]}

    def handle_record(self, record: SQSRecord) -> None:
        envelope = parse_record_body(record.body)
        self.apply(envelope)

    def apply(self, envelope: Envelope) -> bool:
        """Apply one event exactly once; returns False when it had been applied before."""
        logger.append_keys(correlation_id=envelope.correlation_id, event_id=str(envelope.event_id))
        handler = self.handlers.get(envelope.event_name)
        if handler is None:
            logger.warning("no handler for this event; acknowledged", event_name=envelope.event_name)
            return False
        data: BaseModel = REGISTRY.read(envelope)
        table = self._table()
        marker = dynamo.put(
            table,
            {
                "pk": f"INBOX#{envelope.event_id}",
                "sk": self.name,
                "event_name": envelope.event_name,
                "processed_at": clock.iso(clock.now()),
                "expires_at": clock.epoch_seconds() + INBOX_TTL_SECONDS,
            },
            condition="attribute_not_exists(pk)",
        )
        for attempt in range(ATTEMPTS):
            try:
                dynamo.transact([marker, *handler(envelope, data)])
            except ClientError as error:
                codes = dynamo.cancellation_codes(error)
                if codes and codes[0] == "ConditionalCheckFailed":
                    logger.info("duplicate delivery ignored", event_name=envelope.event_name)
                    return False
                if attempt == ATTEMPTS - 1 or not RETRYABLE.intersection(codes):
                    raise
                logger.info("a concurrent write won; applying again from fresh reads", codes=codes)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jitter: racing writers spread out
                continue
            logger.info("event applied", event_name=envelope.event_name, version=envelope.event_version)
            return True
        raise AssertionError("unreachable")
