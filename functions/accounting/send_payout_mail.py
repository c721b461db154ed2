"""The payout mailer (R-ACC-5): each queued MAIL item, written with the payouts it announces, is sent as
ONE bulk SES call (each popug gets their own email from the template), then marked sent and counted on its
day, all marks of a stream batch in one write. A failed send is reported so the stream retries from that
record: every email is sent at least once, and a close run again queues none (its payouts exist already).
"""

from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import ClientError

from accounting import domain, store
from accounting.settings import get as settings
from shared import dynamo
from shared.aws import client
from shared.events.stream_replay import replays_stream
from shared.observability import logger, tracer


class Pacer:
    """Spaces sends so this function stays within SES's sending rate (SES throttles above it); kept
    across warm invocations. Each stream shard runs one mailer at a time, so the rate holds per shard."""

    def __init__(self) -> None:
        self.next_free = 0.0

    def wait(self, emails: int, rate: int) -> None:
        if rate <= 0:
            return
        now = time.monotonic()
        if self.next_free > now:
            time.sleep(self.next_free - now)
        self.next_free = max(now, self.next_free) + emails / rate


pacer = Pacer()


@tracer.capture_lambda_handler
@replays_stream("MAIL#")  # also replays batches given up on, from the replay queue (R-SEC-4)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    sent: list[tuple[str, str, int]] = []
    failure = None
    for record in event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or "destinations" not in image:
            continue
        item = dynamo.from_item(image)
        try:
            send(json.loads(item["destinations"]))
        except Exception:
            logger.exception("payout mail failed; the stream retries from this record", mail=item["pk"])
            failure = {"itemIdentifier": record["dynamodb"]["SequenceNumber"]}
            break
        sent.append((item["pk"], item["business_day"], int(item["count"])))
    if sent:
        mark_sent(sent)
        logger.info("payout mails sent", batches=len(sent), emails=sum(n for _, _, n in sent))
    return {"batchItemFailures": [failure] if failure else []}


def mark_sent(sent: list[tuple[str, str, int]]) -> None:
    """Mark and count each mail once: one already marked (a retried batch) is left out of the write."""
    while sent:
        try:
            dynamo.transact(store.mails_sent_actions(sent))
            return
        except ClientError as error:
            codes = dynamo.cancellation_codes(error)
            marked = {i for i, code in enumerate(codes[: len(sent)]) if code == "ConditionalCheckFailed"}
            if not marked:
                raise
            sent = [mail for i, mail in enumerate(sent) if i not in marked]


def send(destinations: list[dict[str, Any]]) -> None:
    """One SendBulkTemplatedEmail (SES takes up to 50 destinations; a mail item holds at most 10). The HTML
    part is rendered and escaped here, at send time (R-SEC-7), so the queued item stays as small as before."""
    config = settings()
    pacer.wait(len(destinations), config.ses_max_send_rate)
    response = client("ses").send_bulk_templated_email(
        Source=config.ses_sender,
        Template=config.payout_email_template,
        DefaultTemplateData=json.dumps({"name": "popug", "transactions": [], "web_url": config.web_url}),
        Destinations=[
            {
                "Destination": {"ToAddresses": [d["to"]]},
                "ReplacementTemplateData": json.dumps(
                    {
                        **d["data"],
                        "web_url": config.web_url,
                        "html": domain.payout_email_html(d["data"], config.web_url),
                    }
                ),
            }
            for d in destinations
        ],
    )
    statuses = response.get("Status", [])
    rejected = [
        (d["to"], s.get("Error") or s.get("Status"))
        for d, s in zip(destinations, statuses, strict=False)
        if s.get("Status") != "Success"
    ]
    if rejected:
        # SES refused these addresses for good (a bounce, a bad address): retrying cannot help, so they are
        # logged for an operator and the payout stands (the money is in the ledger either way).
        logger.warning("payout emails rejected", rejected=rejected)
