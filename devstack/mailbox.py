"""The local mailbox: every email SES "sent" on the emulator, newest first, as a page and as JSON.

Invitations and payout emails go nowhere locally; this is where a developer reads them (and clicks the
invitation link). The emulator module knows how to read SES's sent messages; this module only
normalises them (simple, templated and raw messages) and renders them.
"""

from __future__ import annotations

import html
import re
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
    """One message as `devstack.emulator.sent_emails` describes it (simple, templated or raw)."""
    body = raw.get("body") or {}
    text = body.get("text") or body.get("html") or "" if isinstance(body, dict) else str(body)
    if not text and raw.get("template"):
        text = f"(template {raw['template']} with {raw.get('template_data') or '{}'})"
    return Email(
        sender=str(raw.get("source") or ""),
        to=[str(a) for a in (raw.get("to") or raw.get("destinations") or [])],
        subject=str(raw.get("subject") or ""),
        body=str(text),
        sent_at=str(raw.get("sent_at") or ""),
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
    escaped = html.escape(text)
    return re.sub(r"(https?://[^\s<>&]+(?:&amp;[^\s<>&]+)*)", r'<a href="\1">\1</a>', escaped)
