"""What becomes of an event a consumer could not apply (R-EV-4): retried with growing pauses, then put in
the consumer's dead-letter queue WITH the reason, where admins see it and can redrive it.

SQS's own redrive policy would move the message after `maxReceiveCount` receives, but without saying why
it failed. So on the last attempt the consumer sends it to the dead-letter queue itself, with the error,
the attempts and the time as message attributes, and lets the source queue delete it. The redrive policy
stays as the backstop (a crash or a timeout never reaches this code). Before that, each failure sets the
message's visibility to an exponential backoff (2, 4, 8, 16 s...), so a poison event does not occupy the
queue for `maxReceiveCount` visibility timeouts, and a transient fault gets time to clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared import clock, settings
from shared.aws import client
from shared.observability import logger

ERROR_MAX_CHARS = 1000
BACKOFF_MAX_SECONDS = 300


@dataclass(frozen=True)
class DeadLetterSettings:
    source_queue_url: str = ""
    dead_letter_queue_url: str = ""
    max_receive_count: int = 5  # the source queue's redrive policy says the same (a contract test checks)


@cache
def get_settings() -> DeadLetterSettings:
    return settings.load(DeadLetterSettings)


def backoff_seconds(attempts: int) -> int:
    return min(BACKOFF_MAX_SECONDS, 2**attempts)


def settle(consumer: str, failures: Sequence[tuple[dict[str, Any], BaseException]]) -> list[str]:
    """Dead-letter the failures on their last attempt, pause the others; returns the message ids the
    batch must still report as failed (left in the source queue for another try)."""
    config = get_settings()
    final, retry = [], []
    for record, error in failures:
        attempts = int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        last = config.dead_letter_queue_url and attempts >= config.max_receive_count
        (final if last else retry).append((record, error, attempts))
    retry += _dead_letter(consumer, config.dead_letter_queue_url, final)
    _pause(config.source_queue_url, retry)
    return [record["messageId"] for record, _, _ in retry]


def _dead_letter(consumer: str, queue_url: str, final: list[tuple[dict, BaseException, int]]) -> list:
    """Send to the dead-letter queue; what could not be sent stays a failure (the redrive policy then)."""
    unsent = []
    for start in range(0, len(final), 10):
        chunk = final[start : start + 10]
        entries = [
            {"Id": str(i), "MessageBody": record["body"], "MessageAttributes": _reason(consumer, error, attempts)}
            for i, (record, error, attempts) in enumerate(chunk)
        ]
        try:
            response = client("sqs").send_message_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:
            logger.exception("could not dead-letter; the queue's redrive policy will")
            unsent += chunk
            continue
        unsent += [chunk[int(f["Id"])] for f in response.get("Failed", [])]
        for record, error, attempts in chunk:
            logger.error("event dead-lettered", consumer=consumer, message_id=record["messageId"],
                         attempts=attempts, error=str(error)[:ERROR_MAX_CHARS])  # fmt: skip
    return unsent


def _reason(consumer: str, error: BaseException, attempts: int) -> dict[str, Any]:
    text = f"{type(error).__name__}: {error}"[:ERROR_MAX_CHARS]
    values = {"consumer": consumer, "error": text, "attempts": str(attempts), "failed_at": clock.iso(clock.now())}
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}


def _pause(queue_url: str, retry: list[tuple[dict, BaseException, int]]) -> None:
    if not queue_url:
        return
    for start in range(0, len(retry), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": record["receiptHandle"], "VisibilityTimeout": backoff_seconds(attempts)}
            for i, (record, _, attempts) in enumerate(retry[start : start + 10])
        ]
        try:
            client("sqs").change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
        except Exception:  # the queue's own visibility timeout applies instead
            logger.warning("could not shorten the retry pause", exc_info=True)
