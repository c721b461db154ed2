"""Accounting CSV downloads in a real browser against devstack (R-UI-5, SPEC §11 `?format=csv`).

An admin downloads Balances and Accounting stats as CSV. The browser is made to ask for pages of one account
(its `limit` rewritten on the way out), so Balances takes one page per account: the file must still hold every
account once, under one header row, exactly as the API's JSON lists them (cell for cell as the CSV writes
them). The stats file holds the days on screen. One popug is hired only when the stack has fewer than two
accounts, so the list always has more than one page.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.test_staff_story import api_call, api_token, wait_until
from tests.browser.test_tasks_story import everything, hire

pytestmark = pytest.mark.browser

ACCOUNTS_TIMEOUT_S = 30.0
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_cell(value: Any) -> str:
    """A JSON value as the CSV writes it (functions/shared/csv_export.py), before quoting."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def parse(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def download(page: Page, testid: str) -> tuple[str, str]:
    with page.expect_download() as started:
        page.get_by_test_id(testid).click()
    return started.value.suggested_filename, Path(started.value.path()).read_bytes().decode()


def one_per_page(route: Route) -> None:
    url = re.sub(r"([?&]limit=)\d+", r"\g<1>1", route.request.url)
    route.continue_(url=url)


def test_r_ui_5_balances_and_stats_download_every_page_as_one_csv(signed_in: Page, devstack) -> None:
    page = signed_in
    token = api_token(devstack, devstack.admin_email, devstack.admin_password)
    if len(everything(devstack, token, "/accounting/accounts")) < 2:
        popug = hire(devstack, token, f"Csv Popug {uuid.uuid4().hex[:6]}")
        listed = lambda: everything(devstack, token, "/accounting/accounts")  # noqa: E731
        wait_until(
            lambda: any(a["employee_id"] == popug.employee_id for a in listed()),
            ACCOUNTS_TIMEOUT_S,
            "the hired popug's account",
        )
    accounts = everything(devstack, token, "/accounting/accounts")
    assert len(accounts) >= 2

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "format=csv" in request.url else None)
    page.route(re.compile(r".*/api/accounting/accounts\?.*format=csv.*"), one_per_page)
    page.goto("/money/accounts")
    expect(page.get_by_test_id("money-account-row").first).to_be_visible()
    filename, text = download(page, "money-accounts-csv")

    assert re.fullmatch(r"balances-\d{4}-\d{2}-\d{2}\.csv", filename), filename
    assert len([url for url in asked if "/accounting/accounts?" in url]) == len(accounts)  # one request a page
    header, rows = parse(text)
    assert header == list(accounts[0])  # one header row: the API's fields, in its order
    assert rows == [[as_cell(account[column]) for column in header] for account in accounts]

    # one account's ledger, every page (the popug hired last has a ledger of its own, maybe empty)
    other = next(a for a in reversed(accounts) if a["email"].lower() != devstack.admin_email.lower())
    ledger = everything(devstack, token, f"/accounting/accounts/{other['employee_id']}/transactions")
    page.route(re.compile(r".*/api/accounting/accounts/[^/]+/transactions\?.*format=csv.*"), one_per_page)
    page.goto(f"/money/accounts/{other['employee_id']}")
    expect(page.get_by_test_id("ledger-status")).not_to_have_text("Loading transactions…")
    filename, text = download(page, "ledger-csv")
    assert filename.startswith("transactions-") and filename.endswith(f"-{other['employee_id'][:8]}.csv"), filename
    if ledger:
        header, rows = parse(text)
        assert rows == [[as_cell(t[column]) for column in header] for t in ledger]
    else:
        assert text == ""

    page.goto("/money/stats?from=2026-01-01&to=2026-01-03")
    expect(page.get_by_test_id("stats-row")).to_have_count(3)
    filename, text = download(page, "stats-csv")
    assert filename == "accounting-stats-2026-01-01-2026-01-03.csv"
    stats = api_call(devstack, token, "GET", "/accounting/stats?from=2026-01-01&to=2026-01-03").json()["items"]
    header, rows = parse(text)
    assert header == list(stats[0])
    assert rows == [[as_cell(day[column]) for column in header] for day in stats]
