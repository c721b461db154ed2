"""devstack's own pages (/_devstack/...): health, the SES mailbox, schedules, sweep, invoke, bootstrap."""

from __future__ import annotations

import boto3
import pytest
from werkzeug.test import Client

from devstack import mailbox
from devstack.control import Control, Services
from devstack.workers import Invocation


class FakePool:
    functions = {"AuthApiFunction": object(), "Broken": object()}

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def invoke(self, function, event):
        self.calls.append((function, event))
        if function == "Broken":
            return Invocation("r-2", ok=False, error={"errorType": "ValueError", "errorMessage": "boom"})
        return Invocation("r-1", ok=True, payload={"echo": event})

    def stats(self):
        return {"AuthApiFunction": {"workers": 1, "busy": 0, "invocations": 3, "cold_starts": 1}}


class FakeScheduler:
    def run_now(self, name):
        if name != "Nightly":
            raise KeyError(f"no schedule {name!r}")
        return type("Spec", (), {"name": "Nightly", "function": "AuthApiFunction"})(), Invocation("r", ok=True)

    def describe(self):
        return [{"name": "Nightly", "expression": "cron(5 0 * * ? *)"}]


class FakeSweeper:
    def sweep(self):
        return {"ates-local-AuthTable": 2}


@pytest.fixture()
def control(emulator):
    pool = FakePool()
    bootstrap_events = []

    def bootstrap(event):
        bootstrap_events.append(event)
        return Invocation("b", ok=True, payload={"email": "admin@ates.example", "password": "p"})

    services = Services(pool, FakeScheduler(), FakeSweeper(), emulator, bootstrap, info={"url": "http://x/"})
    client = Client(Control(services))
    client.pool, client.bootstrap_events = pool, bootstrap_events  # type: ignore[attr-defined]
    return client


def test_health(control):
    body = control.get("/_devstack/health").json
    assert body["status"] == "ok" and body["functions"]["AuthApiFunction"]["invocations"] == 3
    assert body["url"] == "http://x/"


def test_schedules_run_and_sweep(control):
    assert control.get("/_devstack/schedules").json["items"][0]["name"] == "Nightly"
    ran = control.post("/_devstack/schedules/Nightly/run")
    assert ran.status_code == 200 and ran.json["schedule"] == "Nightly" and ran.json["ok"]
    missing = control.post("/_devstack/schedules/Weekly/run")
    assert missing.status_code == 404 and "no schedule" in missing.json["error"]["message"]
    assert control.post("/_devstack/sweep").json == {"deleted": {"ates-local-AuthTable": 2}}


def test_invoke_and_bootstrap(control):
    ok = control.post("/_devstack/invoke/AuthApiFunction", json={"a": 1})
    assert ok.status_code == 200 and ok.json["result"] == {"echo": {"a": 1}}
    failed = control.post("/_devstack/invoke/Broken", json={})
    assert failed.status_code == 502 and failed.json["error"]["errorMessage"] == "boom"
    assert control.post("/_devstack/invoke/Nope", json={}).status_code == 404
    admin = control.post("/_devstack/bootstrap-admin", json={"email": "boss@ates.example"})
    assert admin.json["result"]["password"] == "p" and control.bootstrap_events == [{"email": "boss@ates.example"}]
    assert control.get("/_devstack/nothing-here").status_code == 404


def test_the_mailbox_shows_what_ses_sent_newest_first(control, emulator):
    ses = boto3.client("ses", endpoint_url=emulator, region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="payroll@ates.example.com")
    for subject in ("Welcome to aTES", "Your payout"):
        ses.send_email(
            Source="payroll@ates.example.com",
            Destination={"ToAddresses": ["popug@ates.example"]},
            Message={
                "Subject": {"Data": subject},
                "Body": {"Text": {"Data": f"{subject}: https://127.0.0.1:8000/#/password?token=abc&x=1"}},
            },
        )
    items = control.get("/_devstack/mailbox.json").json["items"]
    ours = [m for m in items if m["to"] == ["popug@ates.example"]]
    assert [m["subject"] for m in ours[:2]] == ["Your payout", "Welcome to aTES"]
    assert ours[0]["from"] == "payroll@ates.example.com" and "token=abc" in ours[0]["body"]
    page = control.get("/_devstack/mailbox")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Your payout" in page.text and 'href="https://127.0.0.1:8000/#/password?token=abc&amp;x=1"' in page.text


def test_mailbox_rendering_escapes_html():
    page = mailbox.render([mailbox.Email(sender="a@b", to=["c@d"], subject="<script>x</script>", body="<b>hi</b>")])
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;hi" in page
