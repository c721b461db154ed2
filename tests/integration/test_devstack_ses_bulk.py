"""A bulk templated send (SES v1 SendBulkTemplatedEmail, as accounting's payout emails) reaches the devstack
mailbox as SES delivers it: one message per destination, rendered with the default data and that destination's
replacement data (which wins), under the message ids SES returned."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from werkzeug.test import Client

from devstack import emulator as emu
from devstack import mailbox
from devstack.control import Control, Services

SENDER = "payroll@ates.example.com"
TEMPLATE = {  # the shape accounting declares in template.yaml (AWS::SES::Template)
    "SubjectPart": "Your aTES payout for {{day}}: {{amount}}",
    "TextPart": "Hello {{name}},\n{{#each transactions}}{{when}} {{kind}} {{amount}} {{title}}\n{{/each}}",
    "HtmlPart": "<p>Hello {{name}}</p><ul>{{#each transactions}}<li>{{title}}</li>{{/each}}</ul>",
}


def _entry(when: str, kind: str, amount: object, title: str) -> dict[str, object]:
    return {"when": when, "kind": kind, "amount": amount, "title": title}


@pytest.fixture()
def ses(emulator):
    client = boto3.client("ses", endpoint_url=emulator, region_name="us-east-1")
    client.verify_email_identity(EmailAddress=SENDER)
    return client


@pytest.fixture()
def template_name(ses) -> str:
    name = f"payout-{uuid.uuid4().hex[:8]}"
    ses.create_template(Template={"TemplateName": name, **TEMPLATE})
    return name


def test_a_bulk_send_is_one_rendered_message_per_destination(ses, template_name, emulator):
    run = uuid.uuid4().hex[:6]
    ann, bob, cid = (f"{who}-{run}@ates.example" for who in ("ann", "bob", "cid"))
    replacements = {
        ann: {"name": "Ann", "amount": "$12.50", "transactions": [
            _entry("09:00", "fee", "-$2.00", "fix the beak"), _entry("17:00", "reward", 1450, "feed the birds")]},
        bob: {"amount": "$3.00", "transactions": [_entry("10:00", "reward", "$3.00", "sing")]},  # default name
        cid: {"name": "Cid", "day": "2026-11-28", "amount": "$0.40", "transactions": [
            _entry("11:00", "reward", "$0.40", "<b>molt</b>")]},
    }  # fmt: skip
    status = ses.send_bulk_templated_email(
        Source=SENDER,
        Template=template_name,
        DefaultTemplateData=json.dumps({"day": "2026-11-27", "name": "popug", "amount": "$0.00"}),
        Destinations=[
            {"Destination": {"ToAddresses": [to]}, "ReplacementTemplateData": json.dumps(data)}
            for to, data in replacements.items()
        ],
    )["Status"]

    sent = {m["to"][0]: m for m in emu.sent_emails(emulator) if m["to"] and m["to"][0] in replacements}
    assert sorted(sent) == sorted(replacements)  # three messages, each to its own destination only
    assert [sent[to]["id"] for to in replacements] == [s["MessageId"] for s in status]  # the ids SES returned
    assert all(m["to"] == [to] and m["cc"] == m["bcc"] == [] for to, m in sent.items())
    assert all(m["kind"] == "templated" and m["template"] == template_name and m["sent_at"] for m in sent.values())
    assert sent[ann]["subject"] == "Your aTES payout for 2026-11-27: $12.50"
    assert sent[ann]["body"]["text"] == "Hello Ann,\n09:00 fee -$2.00 fix the beak\n17:00 reward 1450 feed the birds\n"
    assert sent[ann]["body"]["html"] == "<p>Hello Ann</p><ul><li>fix the beak</li><li>feed the birds</li></ul>"
    assert sent[bob]["subject"] == "Your aTES payout for 2026-11-27: $3.00"
    assert sent[bob]["body"]["text"] == "Hello popug,\n10:00 reward $3.00 sing\n"  # the default fills the gap
    assert sent[cid]["subject"] == "Your aTES payout for 2026-11-28: $0.40"  # the replacement wins
    assert json.loads(sent[cid]["template_data"])["day"] == "2026-11-28"

    control = Client(Control(Services(None, None, None, emulator, None)))  # type: ignore[arg-type]
    items = [m for m in control.get("/_devstack/mailbox.json").json["items"] if m["to"][0] in replacements]
    assert sorted((m["to"], m["subject"], m["id"]) for m in items) == sorted(
        ([to], m["subject"], m["id"]) for to, m in sent.items()
    )
    assert {m.body for m in mailbox.messages(emulator) if m.to == [bob]} == {"Hello popug,\n10:00 reward $3.00 sing\n"}
    page = control.get("/_devstack/mailbox").text
    assert page.count("Your aTES payout for 2026-11-27") >= 2 and "&lt;b&gt;molt" in page


def test_a_single_templated_send_stays_one_message_to_all_its_recipients(ses, template_name, emulator):
    to = [f"{who}-{uuid.uuid4().hex[:6]}@ates.example" for who in ("dee", "eve")]
    data = {"day": "2026-11-27", "name": "both", "amount": 7, "transactions": [_entry("08:00", "fee", 0, "x")]}
    message_id = ses.send_templated_email(
        Source=SENDER, Template=template_name, TemplateData=json.dumps(data), Destination={"ToAddresses": to}
    )["MessageId"]

    (sent,) = [m for m in emu.sent_emails(emulator) if m["to"] == to]
    assert sent["id"] == message_id and sent["subject"] == "Your aTES payout for 2026-11-27: 7"
    assert sent["body"]["text"] == "Hello both,\n08:00 fee 0 x\n"  # numbers print as SES prints them
