"""The local mailbox: every email SES "sent" on the emulator, newest first, as a page and as JSON.

Invitations and payout emails go nowhere locally; this is where a developer reads them (and clicks the
invitation link). The emulator module knows how to read SES's sent messages; this module only
normalises them (plain, templated and raw messages) and renders them.
"""

from __future__ import annotations

import email
import email.policy
import html
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Email:
    sender: str
    to: list[str]
    subject: str
    body: str
    sent_at: str = ""
    id: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


def messages(endpoint_url: str) -> list[Email]:
    """What SES sent on the emulator at `endpoint_url`, newest first."""
    from devstack import emulator

    found = [normalise(raw) for raw in emulator.sent_emails(endpoint_url)]
    return sorted(found, key=lambda m: m.sent_at, reverse=True) if any(m.sent_at for m in found) else found[::-1]


def normalise(raw: dict[str, Any]) -> Email:
    """One sent message, whatever shape it was recorded in."""
    text = raw.get("raw_data") or raw.get("raw") or raw.get("RawData")
    if isinstance(text, str) and not raw.get("subject") and not raw.get("body"):
        return _from_mime(raw, text)
    body = raw.get("body") if "body" in raw else raw.get("Body", "")
    if isinstance(body, dict):  # {"text": ..., "html": ...} or SES's {"Text": {"Data"}, "Html": {"Data"}}
        body = _pick(body, "text", "Text") or _pick(body, "html", "Html") or ""
    if not body and raw.get("template"):
        body = f"(template {raw.get('template')}: {raw.get('template_data', '')})"
    return Email(
        sender=str(raw.get("from") or raw.get("source") or raw.get("Source") or ""),
        to=_addresses(raw.get("to") or raw.get("destinations") or raw.get("Destination") or []),
        subject=str(raw.get("subject") or raw.get("Subject") or ""),
        body=str(body),
        sent_at=str(raw.get("sent_at") or raw.get("timestamp") or raw.get("Timestamp") or ""),
        id=str(raw.get("id") or raw.get("message_id") or raw.get("MessageId") or ""),
    )


def _pick(body: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("Data") or value.get("data")
        if value:
            return str(value)
    return ""


def _addresses(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [str(a) for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in value.get(key, [])]
    return [str(a) for a in value]


def _from_mime(raw: dict[str, Any], text: str) -> Email:
    message = email.message_from_string(text, policy=email.policy.default)
    part = message.get_body(preferencelist=("plain", "html")) if message.is_multipart() else message
    body = part.get_content() if part is not None else ""
    return Email(
        sender=str(message.get("From") or raw.get("source") or ""),
        to=[a.strip() for a in str(message.get("To") or "").split(",") if a.strip()] or _addresses(
            raw.get("destinations") or []
        ),
        subject=str(message.get("Subject") or ""),
        body=str(body),
        sent_at=str(raw.get("sent_at") or raw.get("timestamp") or ""),
        id=str(raw.get("id") or ""),
    )


def render(emails: list[Email]) -> str:
    """A small, dependency-free HTML page (links in bodies stay clickable)."""
    rows = "\n".join(
        f"<article><header><b>{html.escape(m.subject) or '(no subject)'}</b>"
        f"<small>{html.escape(m.sent_at)}</small></header>"
        f"<p>From <code>{html.escape(m.sender)}</code> to <code>{html.escape(', '.join(m.to))}</code></p>"
        f"<pre>{_linkify(m.body)}</pre></article>"
        for m in emails
    )
    empty = "<p>No email has been sent yet. SES is emulated: everything sent lands here.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>devstack mailbox</title>
<meta http-equiv="refresh" content="10">
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
article {{ border: 1px solid #ccc; border-radius: 6px; padding: .5rem 1rem; margin: 1rem 0; }}
header {{ display: flex; justify-content: space-between; }}
pre {{ white-space: pre-wrap; background: #f6f6f6; padding: .5rem; }}
</style></head>
<body><h1>devstack mailbox <small>({len(emails)})</small></h1>
{rows or empty}
</body></html>
"""


def _linkify(text: str) -> str:
    import re

    escaped = html.escape(text)
    return re.sub(r"(https?://[^\s<>&]+(?:&amp;[^\s<>&]+)*)", r'<a href="\1">\1</a>', escaped)
