"""Dead letters in a real browser against devstack (R-EV-4, R-UI-1, SPEC §11 operations).

The story: a poison event is sent straight to accounting's task queue in devstack's emulator (an EventBridge
event whose envelope names TaskAssigned version 99, which no contract knows). Accounting's consumer fails it five
times with growing pauses (2, 4, 8, 16 s) and puts it in its dead-letter queue with the reason. The admin opens
Dead letters under Administration and, refreshing, sees it under AccountingTaskEvents: the event and its version,
the producer, when it failed, 5 attempts, the error, the correlation id, and its data as pretty JSON. The other
consumers say "nothing waiting". Redrive asks first (Cancel changes nothing), then says "1 redriven" and the
count is back to 0; the event fails again, as it must, and comes back after its retries. A worker who opens
/ops/dead-letters is told they need the admin role. Around it, a focused check with the API's answers rewritten
in the browser: a message that was not a readable event, a peek of 20 of 25, a failed refresh and a failed
redrive said readably, and a phone-width look.

The emulator is touched only to make the poison message (nothing in aTES sends one on purpose) and, at the end,
to take it out of the way again; what the page shows is compared with what the API says.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.test_staff_story import api_call, api_token, step
from tests.browser.test_tasks_story import hire, set_password, sign_in_as

pytestmark = pytest.mark.browser

CONSUMER = "AccountingTaskEvents"
CONSUMERS = [
    "AccountingDayClosed",
    "AccountingEmployeeEvents",
    "AccountingOutboxRelay",
    "AccountingPayoutMailer",
    "AccountingTaskEvents",
    "AnalyticsEvents",
    "AuthEmployeeEvents",
    "AuthMailer",
    "AuthOutboxRelay",
    "StaffOutboxRelay",
    "TasksAccountEvents",
    "TasksOutboxRelay",
    "TasksPriceEvents",
]
# 2+4+8+16 s of backoff, the poller's and the gateway's latencies, a loaded machine.
DEAD_LETTER_WAIT_S = 90.0
REFRESH_EVERY_S = 3.0
PHONE = {"width": 390, "height": 844}


# ---- setup in the emulator (never what the test is about) -------------------------------------------


def sqs_client(devstack) -> Any:
    return boto3.client(
        "sqs", endpoint_url=devstack.endpoint_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def queue_url(sqs: Any, name_part: str) -> str:
    urls = [url for url in sqs.list_queues().get("QueueUrls", []) if name_part in url.rsplit("/", 1)[-1]]
    assert len(urls) == 1, f"expected one queue named like {name_part!r} in the emulator, found {urls}"
    return urls[0]


def poison(correlation_id: str) -> tuple[dict[str, Any], str]:
    """An EventBridge event whose envelope is well formed but names a version of TaskAssigned nobody knows."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_name": "TaskAssigned",
        "event_version": 99,
        "event_time": now,
        "producer": "ates.tasks",
        "correlation_id": correlation_id,
        "data": {"task_id": str(uuid.uuid4()), "assignee_id": str(uuid.uuid4()), "note": "poison"},
    }
    event = {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "TaskAssigned", "source": "ates.tasks",
        "time": now, "region": "us-east-1", "resources": [], "detail": envelope,
    }  # fmt: skip
    return envelope, json.dumps(event)


def take_out(sqs: Any, url: str, correlation_id: str) -> int:
    """Delete this test's poison from a queue, if it is visible there (best effort, when the story is over)."""
    removed = 0
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        mine = [m for m in messages if correlation_id in m["Body"]]
        for message in messages:
            if message not in mine:  # others' letters are left as they were
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        for message in mine:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        removed += len(mine)
        if not messages:
            break
    return removed


@pytest.fixture
def admin_token(devstack) -> str:
    return api_token(devstack, devstack.admin_email, devstack.admin_password)


def api_entry(devstack, token: str, consumer: str = CONSUMER) -> dict[str, Any]:
    answer = api_call(devstack, token, "GET", "/ops/dead-letters")
    assert answer.status_code == 200, answer.text
    [entry] = [item for item in answer.json()["items"] if item["consumer"] == consumer]
    return entry


def card(tab: Page, consumer: str = CONSUMER):
    return tab.locator(f'[data-testid="dl-card"][data-consumer="{consumer}"]')


def refresh(tab: Page) -> None:
    """Press Refresh and wait for the new look (the button is busy while it loads)."""
    button = tab.get_by_test_id("dl-refresh")
    expect(button).to_be_enabled()
    button.click()
    expect(button).to_have_text("Refresh")
    expect(button).to_be_enabled()


def refresh_until(tab: Page, ready: Any, timeout: float, what: str, explain: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        refresh(tab)
        if ready():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not on the page within {timeout:.0f} s{f': {explain()}' if explain else ''}")
        tab.wait_for_timeout(REFRESH_EVERY_S * 1000)


# ---- the story -------------------------------------------------------------------------------------


def test_r_ev_4_a_poison_event_is_shown_with_its_reason_and_redriven(signed_in: Page, devstack, admin_token, artifacts):
    admin = signed_in
    sqs = sqs_client(devstack)
    source = queue_url(sqs, f"{CONSUMER}Queue")
    dead_letter_queue = queue_url(sqs, f"{CONSUMER}DeadLetterQueue")
    correlation_id = f"poison-{uuid.uuid4().hex[:12]}"
    envelope, body = poison(correlation_id)
    row = card(admin).locator(f'[data-testid="dl-row"][data-correlation-id="{correlation_id}"]')

    try:
        with step("a poison event goes straight to accounting's task queue"):
            sent = time.monotonic()
            sqs.send_message(QueueUrl=source, MessageBody=body)

        with step("the admin finds Dead letters under Administration: one card per consumer"):
            administration = admin.locator(".nav-group", has=admin.get_by_role("heading", name="Administration"))
            expect(administration.get_by_test_id("nav-ops-dead-letters")).to_have_text("Dead letters")
            administration.get_by_test_id("nav-ops-dead-letters").click()
            expect(admin).to_have_url(re.compile(r"/ops/dead-letters$"))
            expect(admin.get_by_test_id("page-title")).to_have_text("Dead letters")
            expect(admin.get_by_test_id("nav-ops-dead-letters")).to_have_attribute("aria-current", "page")
            expect(admin.get_by_test_id("dl-card")).to_have_count(len(CONSUMERS))
            shown = admin.get_by_test_id("dl-card").evaluate_all("cards => cards.map(c => c.dataset.consumer)")
            assert sorted(shown) == CONSUMERS, shown

        with step("after five attempts with growing pauses the event waits under AccountingTaskEvents"):
            refresh_until(
                admin,
                lambda: row.count() == 1 and row.get_by_test_id("dl-attempts").inner_text() == "5",
                DEAD_LETTER_WAIT_S,
                "the poison event under AccountingTaskEvents with 5 attempts",
                lambda: api_entry(devstack, admin_token),
            )
            waited = time.monotonic() - sent
            assert waited >= 2 + 4 + 8 + 16 - 3, f"dead-lettered after {waited:.1f} s: the backoff was skipped"
            entry = api_entry(devstack, admin_token)
            [letter] = [m for m in entry["messages"] if m["correlation_id"] == correlation_id]
            assert letter["event_id"] == envelope["event_id"] and letter["attempts"] == 5, letter
            assert "TaskAssigned v99" in letter["error"], letter["error"]

            target = card(admin)
            waiting = entry["waiting"]
            expect(target).to_have_attribute("data-waiting", str(waiting))
            expect(target.get_by_test_id("dl-count")).to_have_text(f"{waiting} waiting")
            expect(target.get_by_test_id("dl-redrive")).to_have_text(f"Redrive {waiting}")
            expect(row).to_have_attribute("data-event-id", envelope["event_id"])
            expect(row.get_by_test_id("dl-event")).to_have_text("TaskAssigned")
            expect(row.get_by_test_id("dl-version")).to_have_text("v99")
            expect(row.get_by_test_id("dl-producer")).to_have_text("ates.tasks")
            expect(row.get_by_test_id("dl-attempts")).to_have_text("5")
            expect(row.get_by_test_id("dl-error")).to_have_text(letter["error"])
            expect(row.get_by_test_id("dl-error")).to_contain_text("no contract for TaskAssigned v99")
            assert "monospace" in row.get_by_test_id("dl-error").evaluate("el => getComputedStyle(el).fontFamily")
            expect(row.get_by_test_id("dl-correlation")).to_have_text(correlation_id)
            expect(row.get_by_test_id("dl-failed-at")).to_have_attribute("title", letter["failed_at"])
            expect(row.get_by_test_id("dl-failed-at")).not_to_have_text("—")

        with step("its data opens as pretty JSON"):
            toggle = row.get_by_test_id("dl-data-toggle")
            panel = card(admin).locator(f'[data-testid="dl-data"][data-correlation-id="{correlation_id}"]')
            json_view = panel.get_by_test_id("dl-data-json")
            expect(toggle).to_have_attribute("aria-expanded", "false")
            expect(panel).to_be_hidden()
            toggle.click()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            expect(json_view).to_be_visible()
            assert json.loads(json_view.inner_text()) == envelope["data"]
            assert json_view.inner_text() == json.dumps(envelope["data"], indent=2)
            expect(panel.get_by_test_id("dl-event-id")).to_have_text(envelope["event_id"])

        with step("the other consumers are calm"):
            listed = api_call(devstack, admin_token, "GET", "/ops/dead-letters").json()["items"]
            clear = [item["consumer"] for item in listed if item["consumer"] != CONSUMER and not item["waiting"]]
            for consumer in clear:
                quiet = card(admin, consumer)
                expect(quiet.get_by_test_id("dl-count")).to_have_text("nothing waiting")
                expect(quiet.get_by_test_id("dl-empty")).to_be_visible()
                expect(quiet.get_by_test_id("dl-redrive")).to_have_count(0)
            admin.screenshot(path=str(artifacts / "dead-letters.png"), full_page=True)

        with step("Redrive asks first: Cancel changes nothing"):
            card(admin).get_by_test_id("dl-redrive").click()
            dialog = admin.get_by_test_id("dl-dialog")
            expect(dialog).to_contain_text(f"Redrive {waiting} dead letter")
            expect(dialog).to_contain_text(CONSUMER)
            admin.get_by_test_id("dl-dialog-no").click()
            expect(dialog).to_have_count(0)
            expect(card(admin)).to_have_attribute("data-waiting", str(waiting))
            assert api_entry(devstack, admin_token)["waiting"] == waiting

        with step("Redrive: '1 redriven', and nothing waits any more"):
            card(admin).get_by_test_id("dl-redrive").click()
            with admin.expect_response(f"**/api/ops/dead-letters/{CONSUMER}/redrive") as answered:
                admin.get_by_test_id("dl-dialog-yes").click()
            assert answered.value.status == 200, answered.value.text()
            result = answered.value.json()
            assert result == {"consumer": CONSUMER, "redriven": waiting, "waiting": 0}, result
            target = card(admin)
            expect(target.get_by_test_id("dl-redriven")).to_contain_text(
                f"{waiting} redriven: back in the {CONSUMER} queue"
            )
            if waiting == 1:
                expect(target.get_by_test_id("dl-redriven")).to_contain_text("1 redriven")
            expect(target).to_have_attribute("data-waiting", "0")
            expect(target.get_by_test_id("dl-count")).to_have_text("nothing waiting")
            expect(target.get_by_test_id("dl-empty")).to_be_visible()
            expect(target.get_by_test_id("dl-redrive")).to_have_count(0)
            expect(row).to_have_count(0)
            expect(admin.get_by_test_id("dl-status")).to_contain_text(f"{waiting} redriven")
            admin.screenshot(path=str(artifacts / "dead-letters-redriven.png"), full_page=True)
            redriven = time.monotonic()

        with step("the event fails again, as it must, and comes back after its retries"):
            refresh_until(
                admin,
                lambda: row.count() == 1 and row.get_by_test_id("dl-attempts").inner_text() == "5",
                DEAD_LETTER_WAIT_S,
                "the redriven poison event back under AccountingTaskEvents",
                lambda: api_entry(devstack, admin_token),
            )
            assert time.monotonic() - redriven >= 2 + 4 + 8 + 16 - 3, "it came back without its retries"
            expect(row).to_have_attribute("data-event-id", envelope["event_id"])  # the same event, not a copy
            expect(row.get_by_test_id("dl-error")).to_contain_text("no contract for TaskAssigned v99")
            expect(card(admin).get_by_test_id("dl-redriven")).to_have_count(0)  # Refresh forgets the last redrive
    finally:
        # Out of the way for the rest of the session (visible copies only: one in flight is left to its retries).
        take_out(sqs, dead_letter_queue, correlation_id)
        take_out(sqs, source, correlation_id)


def test_r_ui_1_a_worker_is_told_dead_letters_need_the_admin_role(second_tab, devstack, admin_token):
    kesha = hire(devstack, admin_token, f"Kesha {uuid.uuid4().hex[:4]}")
    set_password(devstack, kesha)
    worker = second_tab()
    sign_in_as(worker, kesha)
    expect(worker.get_by_test_id("nav-ops-dead-letters")).to_have_count(0)
    worker.goto("/ops/dead-letters")
    expect(worker.get_by_test_id("forbidden")).to_contain_text("You need the admin role")
    expect(worker.get_by_test_id("dl-card")).to_have_count(0)
    token = api_token(devstack, kesha.email, kesha.password)
    assert api_call(devstack, token, "GET", "/ops/dead-letters").status_code == 403
    assert api_call(devstack, token, "POST", f"/ops/dead-letters/{CONSUMER}/redrive").status_code == 403


# ---- focused checks with the API's answers rewritten in the browser -------------------------------------


def letter(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": f"m-{number}", "event_id": str(uuid.UUID(int=number)), "event_name": "TaskCompleted",
        "event_version": 1, "producer": "ates.tasks", "correlation_id": f"corr-{number}",
        "event_time": "2026-11-27T10:00:00Z", "data": {"task_id": f"t-{number}"},
        "error": "ResourceNotFoundException: Requested resource not found " + "x" * 200,
        "attempts": 5, "failed_at": "2026-11-27T10:00:31Z", "body": None, **extra,
    }  # fmt: skip


def answer(route: Route, status: int, body: Any) -> None:
    route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_r_ui_2_unreadable_letters_a_partial_peek_and_failures_are_said_readably(signed_in: Page, artifacts):
    admin = signed_in
    raw = "not json at all {"
    blank = dict.fromkeys(["event_id", "event_name", "event_version", "producer", "correlation_id", "event_time"])
    unknown = "unknown: moved by the queue's redrive policy (a crash or a timeout)"
    unreadable_letter = letter(99, **blank, data=None, attempts=None, failed_at=None, body=raw, error=unknown)
    items = [
        {"consumer": "AnalyticsEvents", "waiting": 25, "messages": [letter(n) for n in range(1, 21)]},
        {"consumer": "AuthEmployeeEvents", "waiting": 1, "messages": [unreadable_letter]},
        {"consumer": "TasksAccountEvents", "waiting": 0, "messages": []},
    ]
    looks = iter([(200, {"items": items, "next_cursor": None})])

    def dead_letters(route: Route) -> None:
        status, body = next(looks, (503, {"error": {"code": "unavailable", "message": "the queues are not reachable"}}))
        answer(route, status, body)

    admin.route(re.compile(r"/api/ops/dead-letters$"), dead_letters)
    admin.route(
        re.compile(r"/api/ops/dead-letters/AnalyticsEvents/redrive$"),
        lambda route: answer(route, 404, {"error": {"code": "not_found", "message": "no consumer AnalyticsEvents"}}),
    )
    admin.goto("/ops/dead-letters")
    expect(admin.get_by_test_id("dl-card")).to_have_count(3)
    expect(admin.get_by_test_id("dl-summary")).to_have_text("26 dead letters waiting in 2 consumers of 3.")

    many = card(admin, "AnalyticsEvents")
    expect(many.get_by_test_id("dl-row")).to_have_count(20)
    expect(many.get_by_test_id("dl-peek-note")).to_contain_text("Showing 20 of 25")
    expect(many.get_by_test_id("dl-redrive")).to_have_text("Redrive 25")

    unreadable = card(admin, "AuthEmployeeEvents").get_by_test_id("dl-row")
    expect(unreadable.get_by_test_id("dl-event")).to_have_text("Unreadable message")
    expect(unreadable.get_by_test_id("dl-version")).to_have_count(0)
    expect(unreadable.get_by_test_id("dl-attempts")).to_have_text("—")
    expect(unreadable.get_by_test_id("dl-error")).to_contain_text("redrive policy")
    expect(unreadable.get_by_test_id("dl-data-toggle")).to_have_text("Raw message")
    unreadable.get_by_test_id("dl-data-toggle").click()
    raw_view = card(admin, "AuthEmployeeEvents").get_by_test_id("dl-data")
    expect(raw_view).to_contain_text("Not a readable event")
    expect(raw_view.get_by_test_id("dl-data-json")).to_have_text(raw)
    unreadable.get_by_test_id("dl-data-toggle").click()
    expect(raw_view).to_be_hidden()

    admin.screenshot(path=str(artifacts / "dead-letters-rewritten.png"), full_page=True)

    calm = card(admin, "TasksAccountEvents")
    expect(calm.get_by_test_id("dl-count")).to_have_text("nothing waiting")
    expect(calm.get_by_test_id("dl-empty")).to_be_visible()

    with step("a failed redrive is said on its card; the letters stay"):
        many.get_by_test_id("dl-redrive").click()
        admin.get_by_test_id("dl-dialog-yes").click()
        expect(many.get_by_test_id("dl-card-error")).to_have_text(
            "Could not redrive AnalyticsEvents: No consumer AnalyticsEvents."
        )
        expect(many.get_by_test_id("dl-redrive")).to_be_enabled()
        expect(many.get_by_test_id("dl-row")).to_have_count(20)

    with step("a failed refresh keeps what was shown and says why"):
        admin.get_by_test_id("dl-refresh").click()
        expect(admin.get_by_test_id("dl-refresh-error")).to_have_text(
            "Could not refresh the dead letters: The queues are not reachable."
        )
        expect(admin.get_by_test_id("dl-card")).to_have_count(3)
        expect(admin.get_by_test_id("dl-refresh")).to_be_enabled()

    with step("the page fits a phone: wide tables scroll inside their cards"):
        admin.set_viewport_size(PHONE)
        expect(many).to_be_visible()
        width = admin.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"/ops/dead-letters scrolls sideways on a phone ({width}px wide)"
        admin.screenshot(path=str(artifacts / "dead-letters-phone.png"), full_page=True)


def test_r_ui_2_a_403_from_the_api_is_the_forbidden_page(signed_in: Page):
    signed_in.route(
        re.compile(r"/api/ops/dead-letters$"),
        lambda route: answer(route, 403, {"error": {"code": "forbidden", "message": "admins only"}}),
    )
    signed_in.goto("/ops/dead-letters")
    expect(signed_in.get_by_test_id("forbidden")).to_contain_text("You need the admin role")
