"""R-SEC-7: output is encoded where it lands. The HTML part of every email escapes what people typed (task
titles, names), whatever the mail service does: SES does not escape template data in an HTML part, and
moto (devstack's SES) does not escape anything. The text part shows the same text as typed.

The mails go through the real handlers to the emulator's SES, and are read back as SES sent them. devstack's
mailbox, which shows them locally, shows their HTML only in a sandbox (tests/browser/test_mailbox_sandbox.py
watches a browser keep a hostile mail's scripts from running).
"""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import boto3
import pytest
from werkzeug.test import Client

from devstack import emulator as emulator_module
from devstack.control import Control, Services
from shared.aws import client
from shared.contracts import REGISTRY
from shared.contracts.staff import EmployeeHiredV1
from tests.events import deliver
from tests.integration.conftest import LambdaContext
from tests.integration.test_accounting import TODAY, Ledger
from tests.integration.test_accounting import books as books  # the fixture: a fresh accounting table

HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
BOLD_NAME = "<b>Bold</b>"


def sent_to(emulator: str, address: str) -> list[dict]:
    return [m for m in emulator_module.sent_emails(emulator) if m["to"] == [address]]


def hire(books: Ledger, name: str) -> tuple[str, str]:
    employee_id, email = str(uuid.uuid4()), f"bold-{uuid.uuid4().hex[:8]}@ates.example"
    event = EmployeeHiredV1(employee_id=employee_id, version=1, name=name, email=email, position="Seed sorter",
                            department_id=None)  # fmt: skip
    books.consume(books.staff_consumer, REGISTRY.envelope(event))
    return employee_id, email


def test_r_sec_7_the_payout_email_escapes_the_popugs_name_and_the_task_titles_in_its_html_part(books, emulator):
    popug, address = hire(books, BOLD_NAME)
    books.task(popug, complete=True, title=HOSTILE_TITLE)
    books.close(TODAY)
    books.run_close(TODAY)
    assert books.send_mail() == 1

    [mail] = sent_to(emulator, address)
    html, text = mail["body"]["html"], mail["body"]["text"]
    # the HTML part shows the typed text as text: escaped, no live tag, no event handler attribute
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert html.count("<b>") == 1  # the markup of the email itself (the amount) stays
    assert '<a href="' in html and "/money" in html  # and so does its link to the ledger
    # the text part shows them literally
    assert f"Hello {BOLD_NAME}," in text and HOSTILE_TITLE in text and "&lt;" not in text


@pytest.fixture()
def invitations(as_function, provisioned):
    """Auth's staff consumer and its mailer, with their template environments."""
    env = as_function("AuthOnEmployeeChangedFunction")
    from auth import on_employee_changed

    mailer_env = as_function("AuthMailerFunction")
    from auth import send_mail

    class Invitations:
        table = env["AUTH_TABLE_NAME"]
        web_url = mailer_env.get("WEB_URL", "")

        @staticmethod
        def hire(name: str) -> str:
            email = f"invited-{uuid.uuid4().hex[:8]}@ates.example"
            event = EmployeeHiredV1(employee_id=str(uuid.uuid4()), version=1, name=name, email=email,
                                    position="Seed sorter", department_id=None)  # fmt: skip
            assert deliver(on_employee_changed.lambda_handler, REGISTRY.envelope(event)) == {"batchItemFailures": []}
            return email

        def send(self, address: str) -> None:
            """The mailer's event source: the queued MAIL item to `address`, as its stream INSERT."""
            items = client("dynamodb").scan(TableName=self.table, ConsistentRead=True)["Items"]
            mails = [i for i in items if i["pk"]["S"].startswith("MAIL#") and i["to"]["S"] == address]
            records = [{"eventName": "INSERT", "dynamodb": {"NewImage": i, "SequenceNumber": str(n)}}
                       for n, i in enumerate(mails)]  # fmt: skip
            assert send_mail.lambda_handler({"Records": records}, LambdaContext()) == {"batchItemFailures": []}

    return Invitations()


def test_r_sec_7_the_invitation_email_escapes_the_popugs_name_in_its_html_part(invitations, emulator):
    address = invitations.hire(BOLD_NAME)
    invitations.send(address)

    [mail] = sent_to(emulator, address)
    html, text = mail["body"]["html"], mail["body"]["text"]
    assert html, "the invitation has an HTML part"
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>" not in html
    assert f"Hello {BOLD_NAME}," in text
    # the set-password link stays clickable in the HTML part, and is the same link as in the text part
    [link] = [word for word in text.split() if "/set-password?token=" in word]
    assert f'<a href="{link}">' in html


def test_r_sec_7_the_invitation_links_only_aTES_own_urls(invitations, emulator):
    """A name that looks like a link stays text in the HTML part: only the set-password link is a link."""
    address = invitations.hire("Kesha https://evil.example/set-password?token=x")
    invitations.send(address)

    [mail] = sent_to(emulator, address)
    html = mail["body"]["html"]
    assert 'href="https://evil.example' not in html and "https://evil.example/set-password?token=x" in html
    assert html.count("<a href=") == 1


# --- the devstack mailbox shows mail HTML in a sandbox ------------------------------------------------------

HOSTILE_HTML = (
    "<p>Hello <b>Bold</b></p><img src=x onerror=\"parent.document.title='pwned'\">"
    "<script>parent.document.title='pwned'</script>\"></iframe><script>document.title='pwned'</script>"
)


class Tags(HTMLParser):
    """The elements of a page as a browser's parser sees them (attributes unescaped)."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_r_sec_7_the_devstack_mailbox_shows_mail_html_only_in_a_sandbox(emulator):
    ses = boto3.client("ses", endpoint_url=emulator, region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="payroll@ates.example.com")
    address = f"hostile-{uuid.uuid4().hex[:8]}@ates.example"
    ses.send_email(
        Source="payroll@ates.example.com",
        Destination={"ToAddresses": [address]},
        Message={"Subject": {"Data": "Hostile"},
                 "Body": {"Text": {"Data": "Hello Bold"}, "Html": {"Data": HOSTILE_HTML}}},
    )  # fmt: skip
    control = Client(Control(Services(None, None, None, emulator, None)))  # type: ignore[arg-type]

    page = control.get("/_devstack/mailbox")
    assert page.status_code == 200
    # the page's policy lets no script run, in it or in the srcdoc frames that inherit it
    policy = {d.split()[0]: d.split()[1:] for d in page.headers["Content-Security-Policy"].split(";") if d.strip()}
    assert policy["default-src"] == ["'none'"] and "script-src" not in policy
    tags = Tags(page.text).tags
    assert not [t for t, _ in tags if t in ("script", "img", "object", "embed", "form")], "mail markup got out"
    frames = [attrs for tag, attrs in tags if tag == "iframe" and HOSTILE_HTML in (attrs.get("srcdoc") or "")]
    assert len(frames) == 1, "the HTML part is shown, in a frame of its own"
    [frame] = frames
    sandbox = (frame.get("sandbox") or "").split()
    assert frame.get("sandbox") is not None and not {"allow-scripts", "allow-same-origin"} & set(sandbox)
    # machines get the HTML part as sent
    [mail] = [m for m in control.get("/_devstack/mailbox.json").json["items"] if m["to"] == [address]]
    assert mail["html"] == HOSTILE_HTML and mail["body"] == "Hello Bold"
