"""Accounting in a real browser against devstack (R-ACC-2..6, R-UI-1/2).

The story: an admin hires Kesha, who sets her password from the invitation (R-AUTH-4), and is left the only
popug who can take tasks (as in the tasks story: everyone else loses the worker role, one more popug is made a
manager). The admin creates a task through the API: it goes to Kesha, and My balance shows its fee, in the red
(R-ACC-1/2/3). Kesha marks it done: a reward, and a positive balance (reward 2000..4000 > fee 1000..2000,
R-ACC-4). The admin sees the day's fees and rewards on Accounting stats (R-ACC-6), is told readably that
tomorrow cannot be closed yet, closes the day on Close day and watches it reach closed with Kesha paid
(R-ACC-5); Kesha's ledger then shows the payout and $0.00, and so do the admin's Balances and her account's
page. Around it, focused checks with one API answer rewritten in the browser: the 409s of Close day (with the
earliest open day offered), a close followed poll by poll, a debt balance and "Load more" on the ledger, the
stats chart's gains and losses, and the range check.

The API is only peeked at to wait for effects that travel through events (a fee appears once accounting has
heard of the assignment) and to compare what the page shows with what the API says.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Route, expect

from tests.browser.test_staff_story import api_call, api_token, sign_in_tab, step, wait_until
from tests.browser.test_tasks_story import fits_a_phone, hire, make_sole_assignee, set_password, sign_in_as

pytestmark = pytest.mark.browser

# Fees and rewards travel as events (tasks outbox -> bus -> queue -> accounting).
LEDGER_TIMEOUT_S = 30.0
# The close is a job: a cold start or two, and one account per popug hired in this session.
CLOSE_TIMEOUT_MS = 60_000
EMAIL_TIMEOUT_S = 60.0
PHONE = {"width": 390, "height": 844}
WORKER_NAV = ["My profile", "My tasks", "Create task", "My balance", "Staff", "Org chart"]
ADMIN_MONEY_NAV = {"money-accounts": "Balances", "money-stats": "Accounting stats", "money-close": "Close day"}
MINUS = "\u2212"


def dollars(cents: int, *, signed: bool = False) -> str:
    """Cents as the pages show them: "\u2212$12.50" (a real minus sign), "$1,234.00", "+$30.00" when `signed`."""
    sign = MINUS if cents < 0 else "+" if signed and cents > 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


@pytest.fixture
def admin_token(devstack) -> str:
    return api_token(devstack, devstack.admin_email, devstack.admin_password)


def transactions(devstack, token: str) -> list[dict[str, Any]]:
    answer = api_call(devstack, token, "GET", "/accounting/me/transactions?limit=100")
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def wait_for_transaction(devstack, token: str, kind: str, task_id: str | None) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = [t for t in transactions(devstack, token) if t["kind"] == kind and t["task_id"] == task_id]
        return bool(found)

    wait_until(check, LEDGER_TIMEOUT_S, f"a {kind} for task {task_id} in the ledger")
    assert len(found) == 1, f"one {kind} per task, got {found}"
    return found[0]


def ledger_row(tab: Page, transaction_id: str):
    return tab.locator(f'[data-testid="ledger-row"][data-transaction-id="{transaction_id}"]')


def mails_to(devstack, email: str) -> list[dict[str, Any]]:
    mailbox = requests.get(f"{devstack.url}/_devstack/mailbox.json", timeout=30).json()["items"]
    return [mail for mail in mailbox if email.lower() in [to.lower() for to in mail["to"]]]


# ---- the story -------------------------------------------------------------------------------------


def test_r_acc_2_to_6_fee_reward_stats_close_day_and_payout(
    signed_in: Page, devstack, admin_token, second_tab, artifacts
):
    admin = signed_in
    suffix = uuid.uuid4().hex[:4]
    kesha = hire(devstack, admin_token, f"Kesha {suffix}")
    zazu = hire(devstack, admin_token, f"Zazu {suffix}")

    with step("Kesha sets a password and is left the only popug who can take tasks"):
        set_password(devstack, kesha)
        make_sole_assignee(devstack, admin_token, keep=kesha, promote=zazu)
        kesha_token = api_token(devstack, kesha.email, kesha.password)

    title = f"Sort the sunflower seeds {suffix}"
    with step("the admin creates a task: it goes to Kesha, and accounting charges her its fee"):
        answer = api_call(devstack, admin_token, "POST", "/tasks", {"title": title, "jira_id": "UBERPOP-7"})
        assert answer.status_code == 201, answer.text
        task = answer.json()
        assert task["assignee_id"] == kesha.employee_id, task
        fee = wait_for_transaction(devstack, kesha_token, "fee", task["task_id"])
        assert 1000 <= -fee["amount"] <= 2000 and fee["balance_after"] == fee["amount"], fee
        assert fee["task"] == {"task_id": task["task_id"], "jira_id": "UBERPOP-7", "title": title}, fee
        day = fee["business_day"]
        today = datetime.now(UTC).date().isoformat()
        if day > today:
            pytest.skip(f"today ({today}) was closed earlier in this session: new transactions belong to {day}")

    worker = second_tab()
    with step("Kesha, a worker, finds My balance under Money: the fee, and her balance in the red"):
        sign_in_as(worker, kesha)
        expect(worker.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(WORKER_NAV)
        worker.get_by_test_id("nav-my-balance").click()
        expect(worker.get_by_test_id("page-title")).to_have_text("My balance")
        expect(worker.get_by_test_id("nav-my-balance")).to_have_attribute("aria-current", "page")
        balance = worker.get_by_test_id("balance")
        expect(balance).to_have_text(dollars(fee["amount"]))
        expect(balance).to_have_attribute("data-cents", str(fee["amount"]))
        expect(balance).to_have_class(re.compile(r"\bmoney-debt\b"))
        expect(worker.get_by_test_id("balance-note")).to_have_text("In debt: carried over until rewards cover it.")
        row = ledger_row(worker, fee["transaction_id"])
        expect(row).to_have_attribute("data-kind", "fee")
        expect(row.get_by_test_id("ledger-kind")).to_have_text("Fee")
        expect(row.get_by_test_id("ledger-amount")).to_have_text(dollars(fee["amount"], signed=True))
        expect(row.get_by_test_id("ledger-amount")).to_have_class(re.compile(r"\bmoney-debt\b"))
        expect(row.get_by_test_id("task-jira")).to_have_text("UBERPOP-7")
        expect(row.get_by_test_id("ledger-task-title")).to_have_text(title)
        expect(row.get_by_test_id("ledger-reason")).to_have_text(fee["reason"])
        expect(row.get_by_test_id("ledger-balance")).to_have_text(dollars(fee["balance_after"]))
        expect(worker.get_by_test_id("ledger-status")).to_have_text("Showing 1 transaction, newest first.")
        worker.screenshot(path=str(artifacts / "my-balance-fee.png"), full_page=True)

    with step("Kesha completes the task: a reward, newest first, and a positive balance"):
        worker.get_by_test_id("nav-my-tasks").click()
        item = worker.locator(f'[data-testid="task-item"][data-task-id="{task["task_id"]}"]')
        item.get_by_test_id("task-complete").click()
        expect(item).to_have_count(0)
        reward = wait_for_transaction(devstack, kesha_token, "reward", task["task_id"])
        earned = reward["balance_after"]
        assert 2000 <= reward["amount"] <= 4000 and earned == fee["amount"] + reward["amount"] > 0, reward
        worker.get_by_test_id("nav-my-balance").click()
        expect(worker.get_by_test_id("balance")).to_have_text(dollars(earned))
        expect(worker.get_by_test_id("balance")).not_to_have_class(re.compile(r"\bmoney-debt\b"))
        expect(worker.get_by_test_id("balance-note")).to_have_text("Paid out when the business day closes.")
        rows = worker.get_by_test_id("ledger-row")
        expect(rows).to_have_count(2)
        expect(rows.get_by_test_id("ledger-kind")).to_have_text(["Reward", "Fee"])
        expect(rows.first.get_by_test_id("ledger-amount")).to_have_text(dollars(reward["amount"], signed=True))
        expect(rows.first.get_by_test_id("ledger-amount")).to_have_class(re.compile(r"\bmoney-credit\b"))
        expect(rows.first.get_by_test_id("ledger-balance")).to_have_text(dollars(earned))
        worker.screenshot(path=str(artifacts / "my-balance-reward.png"), full_page=True)

    with step("the admin sees the Money pages, and today's fees and rewards on Accounting stats"):
        money_nav = admin.locator(".nav-group", has=admin.get_by_role("heading", name="Money"))
        for entry, label in ADMIN_MONEY_NAV.items():
            expect(money_nav.get_by_test_id(f"nav-{entry}")).to_have_text(label)
        admin.get_by_test_id("nav-money-stats").click()
        expect(admin.get_by_test_id("page-title")).to_have_text("Accounting stats")
        expect(admin.get_by_test_id("stats-to")).to_have_value(date.today().isoformat())
        expect(admin.get_by_test_id("stats-from")).to_have_value((date.today() - timedelta(days=13)).isoformat())
        expect(admin.get_by_test_id("stats-row")).to_have_count(14)
        stats = api_call(devstack, admin_token, "GET", f"/accounting/stats?from={day}&to={day}").json()["items"][0]
        assert stats["fees"] >= -fee["amount"] and stats["rewards"] >= reward["amount"], stats
        assert stats["management_earnings"] == stats["fees"] - stats["rewards"], stats
        today_row = admin.locator(f'[data-testid="stats-row"][data-date="{day}"]')
        expect(today_row).to_have_attribute("data-status", "open")
        expect(today_row.get_by_test_id("stats-fees")).to_have_text(dollars(stats["fees"]))
        expect(today_row.get_by_test_id("stats-rewards")).to_have_text(dollars(stats["rewards"]))
        expect(today_row.get_by_test_id("stats-earnings")).to_have_text(
            dollars(stats["management_earnings"], signed=True)
        )
        expect(today_row.get_by_test_id("stats-in-red")).to_have_text("—")  # known once the day is closed
        expect(admin.locator(f'[data-testid="stats-bar"][data-date="{day}"]')).to_have_attribute(
            "data-cents", str(stats["management_earnings"])
        )
        admin.screenshot(path=str(artifacts / "accounting-stats-open.png"), full_page=True)

    with step("Close day offers the next open day, and never offers tomorrow, which cannot be closed yet (R-UI-6)"):
        admin.get_by_test_id("nav-money-close").click()
        expect(admin.get_by_test_id("page-title")).to_have_text("Close day")
        date_input = admin.get_by_label("Business day")
        expect(date_input).to_have_value(day)
        preview = admin.get_by_test_id("close-preview")
        expect(preview).to_have_attribute("data-closable", "true")
        tomorrow = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
        date_input.fill(tomorrow)
        expect(preview).to_have_attribute("data-day", tomorrow)
        expect(preview).to_have_attribute("data-closable", "false")
        refusal = api_call(devstack, admin_token, "GET", f"/accounting/days/{tomorrow}/preview").json()["refusal"]
        assert refusal["code"] == "future_day", refusal
        expect(admin.get_by_test_id("close-preview-refusal")).to_have_text(refusal["message"])
        expect(admin.get_by_test_id("close-start")).to_be_disabled()  # nothing to confirm, nothing to fail
        expect(admin.get_by_test_id("close-day")).to_have_count(0)

    with step("the admin closes the day and watches it reach closed, Kesha paid"):
        polls: list[float] = []
        followed = f"/api/accounting/days/{day}"
        admin.on("request", lambda r: polls.append(time.monotonic()) if r.url.endswith(followed) else None)
        date_input.fill(day)
        expect(preview).to_have_attribute("data-day", day)
        expect(preview).to_have_attribute("data-closable", "true")
        expected = api_call(devstack, admin_token, "GET", f"/accounting/days/{day}/preview").json()
        assert expected["closable"] and expected["popugs_to_pay"] >= 1, expected  # Kesha at least
        expect(admin.get_by_test_id("close-preview-paid")).to_have_text(str(expected["popugs_to_pay"]))
        expect(admin.get_by_test_id("close-preview-total")).to_have_text(dollars(expected["total_to_pay"]))
        expect(admin.get_by_test_id("close-preview-in-red")).to_have_text(str(expected["popugs_in_red"]))
        admin.screenshot(path=str(artifacts / "close-day-preview.png"), full_page=True)
        admin.get_by_test_id("close-start").click()
        # The confirmation says what the close will do, before anything is done.
        expect(admin.get_by_test_id("close-dialog")).to_contain_text(
            f"will be paid {dollars(expected['total_to_pay'])} in total"
        )
        with admin.expect_response(f"**/api/accounting/days/{day}/close") as answered:
            admin.get_by_test_id("close-dialog-yes").click()
        assert answered.value.status == 202, answered.value.text()
        assert answered.value.json()["business_day"] == day, answered.value.json()
        card = admin.get_by_test_id("close-day")
        expect(card).to_have_attribute("data-day", day)
        expect(admin).to_have_url(re.compile(rf"/money/close\?day={day}$"))
        expect(card).to_have_attribute("data-status", "closed", timeout=CLOSE_TIMEOUT_MS)
        closed = api_call(devstack, admin_token, "GET", f"/accounting/days/{day}").json()
        assert closed["status"] == "closed" and closed["popugs_paid"] >= 1, closed
        assert closed["total_paid"] >= earned and closed["done"] == closed["total"], closed
        # The close did what its preview said (nothing moved money in between).
        assert (closed["popugs_paid"], closed["total_paid"], closed["popugs_in_red"], closed["total"]) == (
            expected["popugs_to_pay"], expected["total_to_pay"], expected["popugs_in_red"], expected["accounts"]
        )  # fmt: skip
        expect(card.get_by_test_id("close-day-status")).to_have_text("Closed")
        expect(card.get_by_test_id("close-paid")).to_have_text(str(closed["popugs_paid"]))
        expect(card.get_by_test_id("close-total-paid")).to_have_text(dollars(closed["total_paid"]))
        expect(card.get_by_test_id("close-in-red")).to_have_text(str(closed["popugs_in_red"]))
        visited = f"{closed['total']} account{'' if closed['total'] == 1 else 's'} visited."
        expect(card.get_by_test_id("close-progress-text")).to_have_text(visited)
        assert card.get_by_test_id("close-progress").evaluate("bar => bar.value === bar.max"), (
            "a closed day's bar is full"
        )
        expect(card.get_by_test_id("close-result")).to_contain_text(" is closed: ")
        # Then the page names the next day, tomorrow, and offers nothing until it begins.
        expect(admin.get_by_test_id("close-next")).to_contain_text("is closed; the next one, ")
        expect(date_input).to_have_value("")
        expect(admin.get_by_test_id("close-start")).to_be_disabled()
        gaps = [b - a for a, b in itertools.pairwise(polls)]  # the follow's polls (not the previews, not the close)
        assert all(gap >= 0.7 for gap in gaps), f"polled faster than every second: {gaps}"
        admin.screenshot(path=str(artifacts / "close-day-closed.png"), full_page=True)

    with step("the payout emails go out, and the page says so"):

        def all_sent() -> bool:
            now = api_call(devstack, admin_token, "GET", f"/accounting/days/{day}").json()
            return now["emails_queued"] >= 1 and now["emails_sent"] == now["emails_queued"]

        wait_until(all_sent, EMAIL_TIMEOUT_S, f"every payout email of {day} sent")
        sent = api_call(devstack, admin_token, "GET", f"/accounting/days/{day}").json()["emails_sent"]
        expect(admin.get_by_test_id("close-emails")).to_have_text(f"{sent} of {sent} sent", timeout=CLOSE_TIMEOUT_MS)
        wait_until(lambda: len(mails_to(devstack, kesha.email)) >= 2, EMAIL_TIMEOUT_S, "Kesha's payout email")

    with step("Kesha's ledger shows the payout, and her balance is $0.00"):
        payout = wait_for_transaction(devstack, kesha_token, "payout", None)
        assert payout["amount"] == -earned and payout["balance_after"] == 0, payout
        worker.reload()
        expect(worker.get_by_test_id("balance")).to_have_text("$0.00")
        expect(worker.get_by_test_id("balance-note")).to_have_text("Nothing to pay out.")
        rows = worker.get_by_test_id("ledger-row")
        expect(rows.get_by_test_id("ledger-kind")).to_have_text(["Payout", "Reward", "Fee"])
        top = ledger_row(worker, payout["transaction_id"])
        # A payout reads as money paid out to her, not as a red minus like a debt (R-UI-6).
        expect(top.get_by_test_id("ledger-amount")).to_have_text(dollars(earned))
        expect(top.get_by_test_id("ledger-amount")).not_to_have_class(re.compile(r"\bmoney-debt\b"))
        expect(top.get_by_test_id("ledger-payout-note")).to_have_text("paid out to you")
        expect(top.get_by_test_id("ledger-balance")).to_have_text("$0.00")
        expect(top.get_by_test_id("ledger-task")).to_have_count(0)
        expect(top.get_by_test_id("ledger-reason")).to_have_text(payout["reason"])
        worker.screenshot(path=str(artifacts / "my-balance-payout.png"), full_page=True)

    with step("the admin finds Kesha under Balances at $0.00, and her ledger behind her name"):
        admin.get_by_test_id("nav-money-accounts").click()
        expect(admin.get_by_test_id("page-title")).to_have_text("Balances")
        account = admin.locator(f'[data-testid="money-account-row"][data-employee-id="{kesha.employee_id}"]')
        while not account.count() and admin.get_by_test_id("money-accounts-more").is_visible():
            admin.get_by_test_id("money-accounts-more").click()
            admin.wait_for_timeout(300)
        expect(account.get_by_test_id("money-account-balance")).to_have_text("$0.00")
        expect(account.get_by_test_id("money-account-dismissed")).to_have_count(0)
        account.get_by_test_id("money-account-link").click()
        expect(admin).to_have_url(re.compile(rf"/money/accounts/{kesha.employee_id}$"))
        expect(admin.get_by_test_id("page-title")).to_have_text(kesha.name)
        expect(admin.get_by_test_id("nav-money-accounts")).to_have_attribute("aria-current", "page")
        expect(admin.get_by_test_id("balance")).to_have_text("$0.00")
        expect(admin.get_by_test_id("ledger-row").get_by_test_id("ledger-kind")).to_have_text(
            ["Payout", "Reward", "Fee"]
        )
        paid_out = admin.locator('[data-testid="ledger-row"][data-kind="payout"]')
        expect(paid_out.get_by_test_id("ledger-amount")).to_have_text(dollars(earned))
        expect(paid_out.get_by_test_id("ledger-payout-note")).to_contain_text("paid out to ")

    with step("Accounting stats shows the day closed, with its payouts and popugs paid"):
        admin.get_by_test_id("nav-money-stats").click()
        after = api_call(devstack, admin_token, "GET", f"/accounting/stats?from={day}&to={day}").json()["items"][0]
        assert after["status"] == "closed" and after["payouts"] >= earned and after["popugs_paid"] >= 1, after
        today_row = admin.locator(f'[data-testid="stats-row"][data-date="{day}"]')
        expect(today_row).to_have_attribute("data-status", "closed")
        expect(today_row.get_by_test_id("stats-payouts")).to_have_text(dollars(after["payouts"]))
        expect(today_row.get_by_test_id("stats-paid")).to_have_text(str(after["popugs_paid"]))
        expect(today_row.get_by_test_id("stats-in-red")).to_have_text(str(after["popugs_in_red"]))
        admin.screenshot(path=str(artifacts / "accounting-stats-closed.png"), full_page=True)

    with step("the money pages fit a phone without sideways scrolling"):
        phone = second_tab(**PHONE)
        sign_in_as(phone, kesha)
        fits_a_phone(phone, "/money", "ledger-row")
        phone.screenshot(path=str(artifacts / "my-balance-mobile.png"), full_page=True)
        phone_admin = second_tab(**PHONE)
        phone_admin.goto("/")
        sign_in_tab(phone_admin, devstack.admin_email, devstack.admin_password)
        expect(phone_admin.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)
        fits_a_phone(phone_admin, "/money/stats", "stats-row")
        phone_admin.screenshot(path=str(artifacts / "accounting-stats-mobile.png"), full_page=True)
        fits_a_phone(phone_admin, f"/money/close?day={day}", "close-result")
        phone_admin.screenshot(path=str(artifacts / "close-day-mobile.png"), full_page=True)


# ---- focused checks (one API answer rewritten in the browser, everything else real) ----------------


def refuse(status: int, code: str, message: str) -> Any:
    return lambda route: route.fulfill(status=status, json={"error": {"code": code, "message": message}})


def _day(business_day: str, status: str, total: int | None, done: int, **extra: Any) -> dict[str, Any]:
    closed = status == "closed"
    return {
        "business_day": business_day, "status": status, "total": total, "done": done,
        "popugs_paid": extra.get("paid", 0), "total_paid": extra.get("total_paid", 0),
        "popugs_in_red": extra.get("in_red") if closed else None,
        "emails_queued": extra.get("queued", 0), "emails_sent": extra.get("sent", 0),
        "started_at": "2026-11-27T23:59:00Z", "finished_at": "2026-11-28T00:00:05Z" if closed else None,
        "next_open_day": extra.get("next_open_day", business_day),
    }  # fmt: skip


def _transaction(n: int, kind: str = "fee", amount: int = -1500, balance_after: int = -1500) -> dict[str, Any]:
    task_id = str(uuid.uuid4())
    return {
        "transaction_id": str(uuid.uuid4()), "kind": kind, "amount": amount, "balance_after": balance_after,
        "task_id": task_id, "task": {"task_id": task_id, "jira_id": None, "title": f"Task {n:02d}"},
        "reason": f"assigned task {n:02d}", "business_day": "2026-11-27", "recorded_at": "2026-11-27T10:00:00Z",
    }  # fmt: skip


def _preview(day: str, *, today: str, next_open: str, refusal: tuple[str, str] | None = None, **figures: int) -> Any:
    """A GET /accounting/days/{day}/preview answer: figures when the day can be closed, else the refusal."""
    closable = refusal is None
    return {
        "business_day": day, "status": "closed" if day < next_open else "open", "today": today,
        "next_open_day": next_open, "closable": closable,
        "refusal": {"code": refusal[0], "message": refusal[1]} if refusal else None, "as_of": f"{today}T10:00:00Z",
        "accounts": figures.get("accounts", 5) if closable else None,
        "popugs_to_pay": figures.get("paid", 0) if closable else None,
        "total_to_pay": figures.get("total", 0) if closable else None,
        "popugs_in_red": figures.get("in_red", 0) if closable else None,
    }  # fmt: skip


def previews(page: Page, answer: Any) -> list[str]:
    """Answer every close preview with `answer(day)`; returns the days asked about, in order."""
    asked: list[str] = []

    def fulfil(route: Route) -> None:
        day = route.request.url.rsplit("/", 2)[-2]
        asked.append(day)
        route.fulfill(json=answer(day))

    page.route("**/api/accounting/days/*/preview", fulfil)
    return asked


def test_r_ui_6_close_day_previews_the_close_and_offers_only_a_day_that_can_be_closed(signed_in: Page):
    page = signed_in
    in_order = ("previous_day_open", "26 November 2026 is still open: days close in order, so close it first.")

    def answer(day: str) -> dict[str, Any]:
        if day == "2026-11-25":
            return _preview(day, today="2026-11-27", next_open="2026-11-25", paid=2, total=4500, in_red=1)
        return _preview(day, today="2026-11-27", next_open="2026-11-25", refusal=in_order)

    asked = previews(page, answer)
    page.route(
        "**/api/accounting/days/2026-11-25/close",
        refuse(409, "before_first_day", "2026-11-25 is before the first business day, 2026-11-26: nothing to close"),
    )
    page.get_by_test_id("nav-money-close").click()
    date_input = page.get_by_label("Business day")
    expect(date_input).to_have_value("2026-11-25")  # next_open_day, which can be closed (it is before today)
    expect(page.get_by_test_id("close-next")).to_contain_text("The next day to close is")
    expect(page.get_by_test_id("close-preview-text")).to_have_text(
        "2 popugs will be paid $45.00 in total; 1 popug stays in the red (carried over)."
    )
    expect(page.get_by_test_id("close-preview-total")).to_have_text("$45.00")
    expect(page.get_by_test_id("close-start")).to_be_enabled()

    date_input.fill("2026-11-27")
    expect(page.get_by_test_id("close-preview-refusal")).to_have_text(in_order[1])
    expect(page.get_by_test_id("close-start")).to_be_disabled()
    pick = page.get_by_test_id("close-pick-earliest")
    expect(pick).to_contain_text("instead")
    pick.click()
    expect(date_input).to_have_value("2026-11-25")
    expect(date_input).to_be_focused()
    expect(page.get_by_test_id("close-start")).to_be_enabled()

    page.get_by_test_id("close-start").click()
    dialog = page.get_by_test_id("close-dialog")
    expect(dialog).to_contain_text("2 popugs will be paid $45.00 in total")
    page.get_by_test_id("close-dialog-no").click()  # changing one's mind: nothing is sent
    expect(dialog).to_have_count(0)
    assert asked.count("2026-11-25") >= 3, asked  # read again before the confirmation
    # Something changed meanwhile (another admin, a restore): the 409 still reads as a sentence.
    page.get_by_test_id("close-start").click()
    page.get_by_test_id("close-dialog-yes").click()
    expect(page.get_by_test_id("close-error")).to_have_text(
        "2026-11-25 is before the first business day, 2026-11-26: nothing to close."
    )
    expect(page.get_by_test_id("close-start")).to_be_enabled()


def test_r_ui_6_a_day_not_yet_begun_is_never_prefilled(signed_in: Page):
    page = signed_in
    future = ("future_day", "28 November 2026 has not ended yet: days close up to today (27 November 2026).")
    previews(page, lambda day: _preview(day, today="2026-11-27", next_open="2026-11-28", refusal=future))
    page.goto("/money/close")
    expect(page.get_by_test_id("close-next")).to_contain_text("is closed; the next one, ")
    expect(page.get_by_label("Business day")).to_have_value("")
    expect(page.get_by_test_id("close-start")).to_be_disabled()


def test_r_acc_5_close_day_is_followed_every_second_until_closed(signed_in: Page, artifacts):
    page = signed_in
    held: list[Route] = []
    asked_at: list[float] = []

    def hold(route: Route) -> None:
        if route.request.url.endswith("/2021-03-15"):
            asked_at.append(time.monotonic())
            held.append(route)
        else:  # the default day read on load
            route.fulfill(json=_day("2021-03-15", "open", None, 0))

    page.route("**/api/accounting/days/*", hold)
    page.route(
        "**/api/accounting/days/2021-03-15/close",
        lambda route: route.fulfill(status=202, json=_day("2021-03-15", "closing", None, 0)),
    )
    calendar = {"next_open": "2021-03-15"}  # moves on once the close is done
    previews(
        page,
        lambda day: (
            _preview(day, today="2021-03-16", next_open=calendar["next_open"], paid=1, total=2500)
            if day >= calendar["next_open"]
            else _preview(
                day, today="2021-03-16", next_open=calendar["next_open"], refusal=("already_closed", "Closed.")
            )
        ),
    )
    page.goto("/money/close")
    expect(page.get_by_label("Business day")).to_have_value("2021-03-15")
    page.get_by_test_id("close-start").click()
    page.get_by_test_id("close-dialog-yes").click()
    card = page.get_by_test_id("close-day")
    expect(card).to_have_attribute("data-status", "closing")
    expect(card.get_by_test_id("close-progress-text")).to_have_text("Counting the accounts to visit…")
    expect(page.get_by_test_id("close-start")).to_be_disabled()
    expect(page).to_have_url(re.compile(r"/money/close\?day=2021-03-15$"))

    def next_held() -> Route:
        deadline = time.monotonic() + 5
        while not held:
            assert time.monotonic() < deadline, "the page did not ask"
            page.wait_for_timeout(20)
        return held.pop(0)

    answered_at = []
    for state, words in [
        (_day("2021-03-15", "closing", 3, 1, paid=1, total_paid=2500, queued=1), "1 of 3 accounts visited."),
        (_day("2021-03-15", "closing", 3, 2, paid=1, total_paid=2500, queued=1, sent=1), "2 of 3 accounts visited."),
    ]:
        next_held().fulfill(json=state)
        answered_at.append(time.monotonic())
        expect(card.get_by_test_id("close-progress-text")).to_have_text(words)
        expect(card.get_by_test_id("close-progress")).to_have_attribute("value", str(state["done"]))
        expect(card.get_by_test_id("close-progress")).to_have_attribute("max", "3")
        expect(card.get_by_test_id("close-paid")).to_have_text("1")
        expect(card.get_by_test_id("close-total-paid")).to_have_text("$25.00")
        expect(card.get_by_test_id("close-in-red")).to_have_text("—")
    expect(card.get_by_test_id("close-emails")).to_have_text("1 of 1 sent")
    page.screenshot(path=str(artifacts / "close-day-running.png"), full_page=True)

    calendar["next_open"] = "2021-03-16"
    next_held().fulfill(json=_day("2021-03-15", "closed", 3, 3, paid=1, total_paid=2500, in_red=2, queued=1, sent=1))
    expect(card).to_have_attribute("data-status", "closed")
    expect(card.get_by_test_id("close-in-red")).to_have_text("2")
    expect(card.get_by_test_id("close-result")).to_contain_text(
        "is closed: 1 popug paid, 2 popugs in the red (carried over)."
    )
    # The page then names the next day to close, not the one just closed, and offers it.
    expect(page.get_by_test_id("close-next")).to_contain_text("The next day to close is")
    expect(page.get_by_label("Business day")).to_have_value("2021-03-16")
    expect(page.get_by_test_id("close-start")).to_be_enabled()
    waits = [asked - answered for answered, asked in zip(answered_at, asked_at[1:], strict=False)]
    assert len(waits) == 2 and all(0.8 <= wait <= 3.0 for wait in waits), waits
    page.wait_for_timeout(1500)  # closed, every email sent: no more polls
    assert len(asked_at) == 3 and not held, asked_at


def test_r_ui_6_a_closed_day_is_not_offered_again(signed_in: Page):
    page = signed_in
    closed = ("already_closed", "27 November 2026 is already closed: closing it again pays nothing.")
    previews(page, lambda day: _preview(day, today="2026-11-28", next_open="2026-11-28", refusal=closed)
             if day == "2026-11-27" else _preview(day, today="2026-11-28", next_open="2026-11-28"))  # fmt: skip
    page.goto("/money/close")
    expect(page.get_by_label("Business day")).to_have_value("2026-11-28")
    page.get_by_label("Business day").fill("2026-11-27")
    expect(page.get_by_test_id("close-preview-refusal")).to_have_text(closed[1])
    expect(page.get_by_test_id("close-start")).to_be_disabled()


def test_r_acc_6_a_balance_in_debt_and_a_long_ledger(signed_in: Page):
    page = signed_in
    seen: list[str] = []

    def ledger(route: Route) -> None:
        seen.append(route.request.url)
        if "cursor=" not in route.request.url:
            items = [_transaction(n) for n in range(50)]
            route.fulfill(json={"items": items, "next_cursor": "page-2"})
        else:
            route.fulfill(json={"items": [_transaction(50, "reward", 123456, 1250)], "next_cursor": None})

    me = {"employee_id": str(uuid.uuid4()), "name": "Admin", "email": "a@x", "balance": -1250,
          "opening_amount": -250, "dismissed": False}  # fmt: skip
    page.route("**/api/accounting/me", lambda route: route.fulfill(json=me))
    page.route(re.compile(r"/api/accounting/me/transactions\?"), ledger)
    page.goto("/money")  # anyone signed in may open it, even without a link in the navigation
    balance = page.get_by_test_id("balance")
    expect(balance).to_have_text(f"{MINUS}$12.50")
    expect(balance).to_have_class(re.compile(r"\bmoney-debt\b"))
    expect(page.get_by_test_id("balance-opening")).to_have_text(
        f"Includes {MINUS}$2.50 carried over from transactions older than a year."
    )
    rows = page.get_by_test_id("ledger-row")
    expect(rows).to_have_count(50)
    expect(page.get_by_test_id("ledger-status")).to_have_text(
        "Showing 50 transactions, newest first; more are available."
    )
    page.get_by_test_id("ledger-more").click()
    expect(rows).to_have_count(51)
    expect(page.get_by_test_id("ledger-more")).to_be_hidden()
    expect(rows.last.get_by_test_id("ledger-amount")).to_have_text("+$1,234.56")
    expect(rows.last.get_by_test_id("ledger-task-title")).to_have_text("Task 50")
    assert "cursor=page-2" in seen[-1] and "limit=50" in seen[-1], seen


def test_r_acc_6_stats_chart_gains_and_losses_and_the_range_check(signed_in: Page):
    page = signed_in
    items = [
        {"date": "2026-11-25", "status": "closed", "management_earnings": 1500, "fees": 4500, "rewards": 3000,
         "payouts": 2000, "popugs_paid": 2, "popugs_in_red": 1},
        {"date": "2026-11-26", "status": "closed", "management_earnings": -2500, "fees": 1000, "rewards": 3500,
         "payouts": 3500, "popugs_paid": 1, "popugs_in_red": 0},
        {"date": "2026-11-27", "status": "open", "management_earnings": 0, "fees": 0, "rewards": 0,
         "payouts": 0, "popugs_paid": 0, "popugs_in_red": None},
    ]  # fmt: skip
    totals = {"management_earnings": -1000, "fees": 5500, "rewards": 6500, "payouts": 5500, "popugs_paid": 3}
    asked: list[str] = []

    def stats(route: Route) -> None:
        asked.append(route.request.url)
        route.fulfill(json={"from": "2026-11-25", "to": "2026-11-27", "items": items, "totals": totals})

    page.route(re.compile(r"/api/accounting/stats\?"), stats)
    page.goto("/money/stats?from=2026-11-25&to=2026-11-27")
    expect(page.get_by_test_id("stats-row")).to_have_count(3)
    assert "from=2026-11-25" in asked[0] and "to=2026-11-27" in asked[0], asked
    expect(page.get_by_test_id("stats-bar")).to_have_count(3)
    expect(page.locator('[data-testid="stats-bar"].bar-loss')).to_have_count(1)
    expect(page.locator('[data-testid="stats-bar"][data-date="2026-11-26"]')).to_have_class(re.compile(r"bar-loss"))
    expect(page.get_by_role("img")).to_have_attribute("aria-label", re.compile(rf"{MINUS}\$10\.00 in all"))
    expect(page.get_by_test_id("stats-total-earnings")).to_have_text(f"{MINUS}$10.00")
    expect(page.get_by_test_id("stats-total-fees")).to_have_text("$55.00")
    expect(page.get_by_test_id("stats-total-paid")).to_have_text("3")
    loss = page.locator('[data-testid="stats-row"][data-date="2026-11-26"]')
    expect(loss.get_by_test_id("stats-earnings")).to_have_text(f"{MINUS}$25.00")
    expect(loss.get_by_test_id("stats-earnings")).to_have_class(re.compile(r"\bmoney-debt\b"))
    expect(
        page.locator('[data-testid="stats-row"][data-date="2026-11-27"]').get_by_test_id("stats-in-red")
    ).to_have_text("—")

    # More than 366 days is refused before asking (the API would answer 422).
    page.get_by_label("From", exact=True).fill("2024-01-01")
    page.get_by_test_id("stats-show").click()
    expect(page.get_by_test_id("stats-to-error")).to_have_text("Choose at most 366 days.")
    assert len(asked) == 1, asked
    page.get_by_label("From", exact=True).fill("2026-11-28")
    page.get_by_test_id("stats-show").click()
    expect(page.get_by_test_id("stats-to-error")).to_have_text("The last day must not be before the first day.")

    # The API's own refusal is shown as it says it.
    page.unroute(re.compile(r"/api/accounting/stats\?"))
    page.route(
        re.compile(r"/api/accounting/stats\?"),
        refuse(422, "validation_error", "from: must be a date like 2026-11-01"),
    )
    page.get_by_label("From", exact=True).fill("2026-11-01")
    page.get_by_test_id("stats-show").click()
    expect(page.get_by_test_id("stats-error")).to_have_text("From: must be a date like 2026-11-01.")
    expect(page).to_have_url(re.compile(r"/money/stats\?from=2026-11-01&to=2026-11-27$"))


def test_r_acc_6_a_worker_is_sent_from_the_accountants_pages(signed_in: Page):
    page = signed_in

    def as_worker(route: Route) -> None:
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "roles": ["worker"]})

    page.route("**/api/auth/me", as_worker)
    page.reload()
    expect(page.get_by_test_id("user-roles")).to_have_text("worker")
    expect(page.get_by_test_id("nav-my-balance")).to_have_text("My balance")
    for entry in ("money-accounts", "money-stats", "money-close"):
        expect(page.get_by_test_id(f"nav-{entry}")).to_have_count(0)
    page.goto("/money/stats")
    expect(page.get_by_test_id("forbidden")).to_contain_text("You need one of the roles admin or accountant")
    page.goto("/money/close")
    expect(page.get_by_test_id("forbidden")).to_contain_text("You need the admin role")
    # Someone else's account: the API refuses (403), and the page says who may read it.
    page.route(re.compile(r"/api/accounting/accounts"), refuse(403, "forbidden", "you may read only your own account"))
    page.goto(f"/money/accounts/{uuid.uuid4()}")
    expect(page.get_by_test_id("forbidden")).to_contain_text("You need one of the roles admin or accountant")
