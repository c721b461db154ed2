"""The local mailbox: every email SES "sent" on the emulator, newest first, as a page and as JSON.

Invitations and payout emails go nowhere locally; this is where a developer reads them (and clicks the
invitation link). The emulator module knows how to read SES's sent messages; this module only
normalises them (simple, templated and raw messages) and renders them.

A mail's HTML part is shown as the mail client would show it, but in a sandbox (R-SEC-7): an iframe whose
`sandbox` withholds scripts, forms and the page's origin, fed through `srcdoc`, under a page policy (CSP)
that allows no script at all (a srcdoc frame inherits it). A hostile mail, say a task titled
`<img src=x onerror=...>` that a mailer failed to escape, therefore shows as broken markup and runs nothing
in devstack's origin, where the control endpoints live. Its links open in a new tab, outside the sandbox.
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
    body: str  # the text part (the HTML part's source when a mail has no text part)
    sent_at: str = ""
    id: str = ""
    html: str = ""  # the HTML part, as sent

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
    html_part = (body.get("html") or "") if isinstance(body, dict) else ""
    if not text and raw.get("template"):
        text = f"(template {raw['template']} with {raw.get('template_data') or '{}'})"
    return Email(
        sender=str(raw.get("source") or ""),
        to=[str(a) for a in (raw.get("to") or raw.get("destinations") or [])],
        subject=str(raw.get("subject") or ""),
        body=str(text),
        sent_at=str(raw.get("sent_at") or ""),
        id=str(raw.get("id") or ""),
        html=str(html_part),
    )


# The mailbox page's policy: no script, no plugin, no form, no fetch; inline styles and data: images only. A
# srcdoc frame inherits it, so it holds for the mails' HTML too, beside their frames' sandbox.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# No allow-scripts, allow-same-origin, allow-forms or allow-top-navigation: a mail can only be looked at, and
# its links (target _blank, see _frame) open a new tab outside the sandbox.
SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


def render(emails: list[Email]) -> str:
    """A small, dependency-free HTML page (links in bodies stay clickable)."""
    rows = "\n".join(
        f"<article><header><b>{html.escape(m.subject) or '(no subject)'}</b>"
        f"<small>{html.escape(m.sent_at)}</small></header>"
        f"<p>From <code>{html.escape(m.sender)}</code> to <code>{html.escape(', '.join(m.to))}</code></p>"
        f"{_parts(m)}</article>"
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
iframe {{ width: 100%; height: 16rem; border: 1px solid #ddd; resize: vertical; background: #fff; }}
</style></head>
<body><h1>devstack mailbox <small>({len(emails)})</small></h1>
{rows or empty}
</body></html>
"""


def _parts(mail: Email) -> str:
    """The HTML part sandboxed, the text part beside it (folded away when there is an HTML part)."""
    text = f"<pre>{_linkify(mail.body)}</pre>"
    if not mail.html:
        return text
    return f"{_frame(mail.html)}<details><summary>Text part</summary>{text}</details>"


def _frame(mail_html: str) -> str:
    """The mail's HTML in a sandboxed iframe. `srcdoc` is an attribute: the whole document is escaped into it,
    so nothing of the mail can end the attribute or the frame and land in this page."""
    document = f'<!doctype html><meta charset="utf-8"><base target="_blank">{mail_html}'
    return (
        f'<iframe sandbox="{SANDBOX}" referrerpolicy="no-referrer" title="HTML part" '
        f'srcdoc="{html.escape(document, quote=True)}"></iframe>'
    )


def _linkify(text: str) -> str:
    escaped = html.escape(text)
    return re.sub(r"(https?://[^\s<>&]+(?:&amp;[^\s<>&]+)*)", r'<a href="\1">\1</a>', escaped)
