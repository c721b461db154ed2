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

A consumer may also apply a whole batch in one transaction (`together`: one read and one write for ten
events instead of ten of each, which is what keeps accounting up with a shuffle); whatever cannot go
together (a poison event, one applied before) falls back to the one-event path above.
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
# Applies several events (each with a handler, in delivery order) as one transaction's actions.
TogetherHandler = Callable[[list[tuple[Envelope, Any]]], list[dict[str, Any]]]
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

    def __init__(
        self, name: str, table: Callable[[], str], handlers: dict[str, Handler], together: TogetherHandler | None = None
    ) -> None:
        self.name = name
        self._table = table
        self.handlers = handlers
        self.together = together

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        # Every failure is reported per record, even when all fail: one shape for the queue to act on.
        failed: list[tuple[dict[str, Any], BaseException]] = []
        records = event.get("Records", [])
        if self.together and len(records) > 1:
            records = self.apply_together(records)
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

    def apply_together(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Apply a batch's events in ONE transaction (their inbox markers first, then `together`'s actions),
        again from fresh reads while concurrent writers win; returns the records left to apply one at a
        time. Those are what cannot go together (unreadable, unhandled, a second copy of an event in this
        batch), events applied before (the single path acknowledges them, and says so), and the whole
        batch when the transaction is refused for any other reason or `together` fails: one poison event
        is then isolated by the single path, and nothing of the batch was written."""
        batch: list[tuple[dict[str, Any], Envelope, Any]] = []
        alone: list[dict[str, Any]] = []
        ids: set[str] = set()
        for record in records:
            try:
                envelope = parse_record_body(SQSRecord(record).body)
                data = REGISTRY.read(envelope) if envelope.event_name in self.handlers else None
            except Exception:  # the single path reports it, with its reason
                envelope, data = None, None
            if data is None or envelope is None or str(envelope.event_id) in ids:
                alone.append(record)
                continue
            ids.add(str(envelope.event_id))
            batch.append((record, envelope, data))
        for attempt in range(ATTEMPTS):
            if len(batch) < 2:
                break
            markers = [self.marker(envelope) for _, envelope, _ in batch]
            try:
                actions = [*markers, *self.together([(envelope, data) for _, envelope, data in batch])]
                if len(actions) > dynamo.MAX_TRANSACTION_ACTIONS:
                    break
                dynamo.transact(actions)
            except ClientError as error:
                codes = dynamo.cancellation_codes(error)
                seen = {i for i, code in enumerate(codes[: len(markers)]) if code == "ConditionalCheckFailed"}
                if seen:  # applied before: the single path acknowledges them; the others go again
                    alone += [record for i, (record, _, _) in enumerate(batch) if i in seen]
                    batch = [item for i, item in enumerate(batch) if i not in seen]
                    continue
                if attempt == ATTEMPTS - 1 or not RETRYABLE.intersection(codes):
                    break
                logger.info("a concurrent write won; applying the batch again from fresh reads", codes=codes)
                time.sleep(random.uniform(0, 0.01 * 2**attempt))
                continue
            except Exception:
                logger.exception("the batch could not be applied together; applying its events one at a time")
                break
            for _, envelope, _ in batch:
                logger.info("event applied", event_name=envelope.event_name, version=envelope.event_version,
                            event_id=str(envelope.event_id), correlation_id=envelope.correlation_id)  # fmt: skip
            return alone
        return alone + [record for record, _, _ in batch]

    def marker(self, envelope: Envelope) -> dict[str, Any]:
        """The inbox marker: written with the event's effects, refused if the event was applied before."""
        return dynamo.put(
            self._table(),
            {
                "pk": f"INBOX#{envelope.event_id}",
                "sk": self.name,
                "event_name": envelope.event_name,
                "processed_at": clock.iso(clock.now()),
                "expires_at": clock.epoch_seconds() + INBOX_TTL_SECONDS,
            },
            condition="attribute_not_exists(pk)",
        )

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
        marker = self.marker(envelope)
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
