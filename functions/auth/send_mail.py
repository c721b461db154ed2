"""The auth mailer: sends each queued MAIL item (invitations) through SES, from the table's stream,
then forgets it. A failed send is reported so the stream retries it: sent at least once."""

from __future__ import annotations

from typing import Any

from auth import store
from auth.settings import get as settings
from shared.aws import client
from shared.events.stream_replay import replays_stream
from shared.observability import logger


@replays_stream("MAIL#")  # also replays batches given up on, from the replay queue (R-SEC-4)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sender = settings().ses_sender
    for record in event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or "to" not in image:
            continue
        try:
            client("ses").send_email(
                Source=sender,
                Destination={"ToAddresses": [image["to"]["S"]]},
                Message={
                    "Subject": {"Data": image["subject"]["S"], "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": image["text"]["S"], "Charset": "UTF-8"}},
                },
            )
        except Exception:
            logger.exception("sending failed; the stream retries from this record")
            return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        store.forget_mail(image["pk"]["S"])
        logger.info("mail sent", subject=image["subject"]["S"])
    return {"batchItemFailures": []}
