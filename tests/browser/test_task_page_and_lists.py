"""A task's page with its price, and the searched, sorted lists, in a real browser against devstack
(R-UI-4, R-UI-5).

The admin creates tasks through the API (setup), then in the browser: opens a task's page and sees its fee and
reward as accounting priced them (the same fee the assignee's ledger was charged), and its history; searches
All tasks by the start of a title and sorts it both ways; searches Balances by the start of a name, sorts it
by balance, and downloads the list as chosen as a CSV, which is opened and parsed.

The devstack is shared by the session: every name and title here starts with a fresh tag, so what other
tests created never matches a search.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_staff_story import api_call, api_token, step, wait_until
from tests.browser.test_tasks_story import everything, hire

pytestmark = pytest.mark.browser

EVENTS_TIMEOUT_S = 45.0  # task -> accounting (price, fee) -> tasks (TaskPriced): a few queues and cold starts


def create_task(devstack: Any, token: str, title: str, **fields: Any) -> dict[str, Any]:
    """POST /tasks, waiting for the assignee pool to know the popug hired a moment ago (409 no_assignee)."""
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    while True:
        answer = api_call(devstack, token, "POST", "/tasks", {"title": title, **fields})
        if answer.status_code == 201 or time.monotonic() > deadline:
            assert answer.status_code == 201, answer.text
            return answer.json()
        assert answer.status_code == 409, answer.text
        time.sleep(0.5)


@pytest.fixture
def admin_token(devstack) -> str:
    return api_token(devstack, devstack.admin_email, devstack.admin_password)


def cents(page: Page, testid: str) -> list[int]:
    return [int(value) for value in page.get_by_test_id(testid).evaluate_all("els => els.map(e => e.dataset.cents)")]


def test_r_ui_4_a_task_page_shows_its_price_assignee_and_history(signed_in: Page, devstack, admin_token) -> None:
    page = signed_in
    tag = uuid.uuid4().hex[:6]
    hire(devstack, admin_token, f"Pricey {tag}")  # someone to take the task
    task = create_task(devstack, admin_token, f"{tag} polish the perch", jira_id=f"PERCH-{int(tag, 16) % 1000}")

    with step("the fee the assignee is charged, as accounting booked it"):
        ledger_path = f"/accounting/accounts/{task['assignee_id']}/transactions"

        def fee() -> int | None:
            found = [t for t in everything(devstack, admin_token, ledger_path) if t["task_id"] == task["task_id"]]
            return -found[0]["amount"] if found else None

        wait_until(lambda: fee() is not None, EVENTS_TIMEOUT_S, "the assignment fee in the assignee's ledger")
        charged = fee()

    with step("the task page: title, Jira id, status, assignee, price, history"):
        page.goto(f"/tasks/{task['task_id']}")
        expect(page.get_by_test_id("page-title")).to_contain_text(f"{tag} polish the perch")
        expect(page.get_by_test_id("task-page-jira")).to_have_text(task["jira_id"])
        expect(page.get_by_test_id("task-status")).to_have_text("Open")
        # whoever the pool gave it to (earlier tests in the session decide who is in it), by name
        assignee = api_call(devstack, admin_token, "GET", f"/staff/employees/{task['assignee_id']}").json()
        expect(page.get_by_test_id("task-page-assignee-name")).to_have_text(assignee["name"])
        # the price appears on its own once the tasks context has it (the page asks again while it is unknown)
        expect(page.get_by_test_id("task-fee")).to_have_attribute(
            "data-cents", str(charged), timeout=EVENTS_TIMEOUT_S * 1000
        )
        reward = int(page.get_by_test_id("task-reward").get_attribute("data-cents"))
        assert 1000 <= charged <= 2000 and 2000 <= reward <= 4000  # R-ACC-1's ranges
        expect(page.get_by_test_id("task-fee")).to_have_text(f"${charged // 100}.{charged % 100:02d}")
        steps = page.get_by_test_id("task-history-step")
        expect(steps).to_have_count(1)
        expect(steps.first).to_have_attribute("data-kind", "created")
        expect(steps.first).to_contain_text(assignee["name"])

    with step("All tasks shows the same price, and the title leads to the page"):
        page.goto(f"/tasks?q={tag}")
        row = page.get_by_test_id("task-row").filter(has_text=f"{tag} polish the perch")
        expect(row.get_by_test_id("task-fee")).to_have_attribute("data-cents", str(charged))
        expect(row.get_by_test_id("task-reward")).to_have_attribute("data-cents", str(reward))
        row.get_by_test_id("task-link").click()
        expect(page).to_have_url(f"{devstack.url}/tasks/{task['task_id']}")
        expect(page.get_by_test_id("task-page")).to_be_visible()


def test_r_ui_5_all_tasks_search_and_sort_on_the_server(signed_in: Page, devstack, admin_token) -> None:
    page = signed_in
    tag = uuid.uuid4().hex[:6]
    hire(devstack, admin_token, f"Sorter {tag}")
    titles = [f"{tag} {word}" for word in ("mango", "apple", "kiwi")]
    for title in titles:
        create_task(devstack, admin_token, title)

    page.goto("/tasks")
    listed = page.get_by_test_id("task-title")
    expect(page.get_by_test_id("tasks-search")).to_be_visible()
    with step("search: the start of a title, in any case"):
        page.get_by_test_id("tasks-search").fill(tag.upper())
        expect(listed).to_have_text(sorted(titles))  # a search comes in title order
        expect(page).to_have_url(re.compile(f"q={tag.upper()}"))  # the address follows the list (after it renders)
    with step("sort: title Z to A"):
        page.get_by_test_id("tasks-sort").select_option("title:desc")
        expect(listed).to_have_text(sorted(titles, reverse=True))
    with step("the search narrows further as one types"):
        page.get_by_test_id("tasks-search").fill(f"{tag} k")
        expect(listed).to_have_text([f"{tag} kiwi"])
    with step("a reload shows the same list"):
        page.reload()
        expect(listed).to_have_text([f"{tag} kiwi"])
        expect(page.get_by_test_id("tasks-sort")).to_have_value("title:desc")


def test_r_ui_5_balances_search_sort_and_download_as_chosen(signed_in: Page, devstack, admin_token) -> None:
    page = signed_in
    tag = uuid.uuid4().hex[:6]
    names = [f"{tag} {word}" for word in ("Zed", "Ara", "Moss")]
    hired = [hire(devstack, admin_token, name) for name in names]
    create_task(devstack, admin_token, f"{tag} a fee for someone")  # some popug is in debt now

    def known() -> bool:
        ids = {a["employee_id"] for a in everything(devstack, admin_token, "/accounting/accounts")}
        return all(p.employee_id in ids for p in hired) and any(
            a["balance"] < 0 for a in everything(devstack, admin_token, "/accounting/accounts")
        )

    wait_until(known, EVENTS_TIMEOUT_S, "the hired popugs' accounts and a fee")

    page.goto("/money/accounts")
    rows = page.get_by_test_id("money-account-link")
    with step("search: the start of a name, in any case"):
        page.get_by_test_id("money-accounts-search").fill(tag.upper())
        expect(rows).to_have_text(sorted(names, key=str.lower))
    with step("sort: name Z to A"):
        page.get_by_test_id("money-accounts-sort").select_option("name:desc")
        expect(rows).to_have_text(sorted(names, key=str.lower, reverse=True))

    with step("the whole list by balance, lowest first: the deepest debt on top"):
        page.get_by_test_id("money-accounts-search").fill("")
        page.get_by_test_id("money-accounts-sort").select_option("balance:asc")
        expect(page.get_by_test_id("money-accounts-status")).to_contain_text("Showing")
        page.wait_for_function(
            "() => { const c = [...document.querySelectorAll('[data-testid=money-account-balance]')]"
            ".map(e => Number(e.dataset.cents)); return c.length > 1 && c[0] < 0 }"
        )
        shown = cents(page, "money-account-balance")
        assert shown == sorted(shown) and shown[0] < 0, shown
    with step("highest first"):
        page.get_by_test_id("money-accounts-sort").select_option("balance:desc")
        page.wait_for_function(
            "() => { const c = [...document.querySelectorAll('[data-testid=money-account-balance]')]"
            ".map(e => Number(e.dataset.cents)); return c.length > 1 && c[0] >= c[c.length - 1] && c[0] >= 0 }"
        )
        shown = cents(page, "money-account-balance")
        assert shown == sorted(shown, reverse=True), shown

    with step("the CSV is the list as chosen: the search and the order, opened and parsed"):
        page.get_by_test_id("money-accounts-search").fill(tag)
        expect(rows).to_have_text(sorted(names, key=str.lower))  # a search moves the list to name order
        page.get_by_test_id("money-accounts-sort").select_option("name:desc")
        expect(rows).to_have_text(sorted(names, key=str.lower, reverse=True))
        with page.expect_download() as started:
            page.get_by_test_id("money-accounts-csv").click()
        text = Path(started.value.path()).read_bytes().decode()
        table = list(csv.reader(io.StringIO(text, newline="")))
        header, records = table[0], table[1:]
        assert header[:3] == ["employee_id", "name", "email"] and "balance" in header
        assert [r[header.index("name")] for r in records] == sorted(names, key=str.lower, reverse=True)
        assert {r[header.index("employee_id")] for r in records} == {p.employee_id for p in hired}
        balances = {a["employee_id"]: a["balance"] for a in everything(devstack, admin_token, "/accounting/accounts")}
        assert {r[header.index("employee_id")]: int(r[header.index("balance")]) for r in records} == {
            p.employee_id: balances[p.employee_id] for p in hired
        }
