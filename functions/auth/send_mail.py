"""The auth mailer: sends each queued MAIL item (invitations) through SES, from the table's stream,
then forgets it. A failed send is reported so the stream retries it: sent at least once.

Each mail goes out as text and HTML. The HTML part is made here from the text (R-SEC-7): everything is
escaped, since a popug's name is whatever an admin typed, and only links into aTES itself (the set-password
link) become links, so a name that looks like a URL stays text.
"""

from __future__ import annotations

import html
import re
from typing import Any

from auth import store
from auth.settings import get as settings
from shared.aws import client
from shared.events.stream_replay import replays_stream
from shared.observability import logger

URL = re.compile(r"https?://\S+")


@replays_stream("MAIL#")  # also replays batches given up on, from the replay queue (R-SEC-4)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    for record in event.get("Records", []):
        image = record.get("dynamodb", {}).get("NewImage") or {}
        if record.get("eventName") != "INSERT" or "to" not in image:
            continue
        text = image["text"]["S"]
        try:
            client("ses").send_email(
                Source=config.ses_sender,
                Destination={"ToAddresses": [image["to"]["S"]]},
                Message={
                    "Subject": {"Data": image["subject"]["S"], "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": text, "Charset": "UTF-8"},
                        "Html": {"Data": html_part(text, config.web_url), "Charset": "UTF-8"},
                    },
                },
            )
        except Exception:
            logger.exception("sending failed; the stream retries from this record")
            return {"batchItemFailures": [{"itemIdentifier": record["dynamodb"]["SequenceNumber"]}]}
        store.forget_mail(image["pk"]["S"])
        logger.info("mail sent", subject=image["subject"]["S"])
    return {"batchItemFailures": []}


def html_part(text: str, web_url: str) -> str:
    """The text as HTML: a paragraph per blank-line-separated block, line breaks kept, every character of
    the text escaped, and URLs under `web_url` (aTES's own pages) made links."""
    own = web_url.rstrip("/") + "/"

    def inline(block: str) -> str:
        out, at = [], 0
        for match in URL.finditer(block):
            url = match.group(0)
            if not url.startswith(own):
                continue
            out += [html.escape(block[at : match.start()]), f'<a href="{html.escape(url)}">{html.escape(url)}</a>']
            at = match.end()
        out.append(html.escape(block[at:]))
        return "".join(out).replace("\n", "<br>\n")

    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip()]
    return "".join(f"<p>{inline(block)}</p>\n" for block in blocks)
