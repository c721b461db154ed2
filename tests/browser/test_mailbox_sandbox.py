"""R-SEC-7 in a real browser: devstack's mailbox shows a mail's HTML, and a hostile mail runs no script.

The mailbox is devstack's own page (`/_devstack/mailbox`, the origin of its control endpoints). It is served
here from devstack's control app over the session's emulator, without a whole devstack: the page is all
this test is about.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug.serving import make_server

from devstack.control import Control, Services

pytestmark = pytest.mark.browser

RAN = "mail-script-ran"
HOSTILE_HTML = (
    f"<p>Hello <b data-testid=bold>Bold</b></p><img src=x onerror=\"console.log('{RAN}')\">"
    f"<script>console.log('{RAN}'); parent.document.title = 'pwned'</script>"
)


@pytest.fixture()
def mailbox_url(emulator: str) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, Control(Services(None, None, None, emulator, None)))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/_devstack/mailbox"
    finally:
        server.shutdown()
        thread.join(5)


def test_r_sec_7_a_hostile_mail_shows_in_the_mailbox_and_runs_no_script(browser: Any, mailbox_url: str, emulator):
    from playwright.sync_api import expect

    ses = boto3.client("ses", endpoint_url=emulator, region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="payroll@ates.example.com")
    subject = f"Hostile {uuid.uuid4().hex[:8]}"
    ses.send_email(
        Source="payroll@ates.example.com",
        Destination={"ToAddresses": ["victim@ates.example"]},
        Message={"Subject": {"Data": subject},
                 "Body": {"Text": {"Data": "Hello Bold"}, "Html": {"Data": HOSTILE_HTML}}},
    )  # fmt: skip

    context = browser.new_context()
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(mailbox_url)
        mail = page.locator("article", has_text=subject)
        # the HTML part is rendered (bold text, not its source)...
        expect(mail.frame_locator("iframe").get_by_test_id("bold")).to_have_text("Bold")
        page.wait_for_timeout(500)  # an onerror fires once the broken image fails: give it the time
        # ...and nothing of it ran: neither in its frame nor in the mailbox page
        assert RAN not in console, console
        assert page.title() == "devstack mailbox"
    finally:
        context.close()
