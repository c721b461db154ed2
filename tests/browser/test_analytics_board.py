"""Saved metrics in a real browser against devstack (R-AN-6): the admin runs a query in the SQL console,
draws it as a bar chart, saves it as a metric, opens the Board (where the examples of a fresh stack are too),
sees the metric re-run as its chart, and downloads its CSV, which is exactly the API's CSV: a header row,
RFC 4180 quoting and the formula guard. The query reads only VALUES, so it needs nothing in the lake."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

SQL = """SELECT label, n FROM (VALUES ('plain', 1), ('with, comma', 2), ('=1+1', 3)) AS t(label, n)
ORDER BY n"""
CSV = 'label,n\r\nplain,1\r\n"with, comma",2\r\n\'=1+1,3\r\n'


def test_r_an_6_a_query_saved_from_the_console_is_on_the_board_as_its_chart_and_downloads_as_csv(
    signed_in: Page, artifacts
):
    page = signed_in
    name = f"Labels {uuid.uuid4().hex[:6]}"
    page.goto("/analytics/sql")
    expect(page.get_by_test_id("sql-tables")).to_contain_text("employee_history")  # the slices are listed
    page.get_by_label("SQL query").fill(SQL)
    page.get_by_test_id("sql-run").click()
    expect(page.get_by_test_id("sql-row")).to_have_count(3)
    expect(page.get_by_test_id("sql-status")).to_have_text(re.compile(r"^3 rows in [\d.]+ m?s\.$"))
    # a chart of any result: numbers on y, the first column on x
    expect(page.get_by_test_id("sql-chart-bar")).to_have_count(3)
    page.get_by_test_id("chart-type").select_option("line")
    expect(page.get_by_test_id("sql-chart").locator("polyline")).to_have_attribute("data-points", "3")
    page.get_by_test_id("chart-type").select_option("bar")

    with page.expect_download() as console_download:
        page.get_by_test_id("sql-csv").click()
    assert Path(console_download.value.path()).read_bytes().decode() == CSV

    page.get_by_label("Metric name").fill(name)
    page.get_by_test_id("metric-save").click()
    expect(page.get_by_test_id("metric-saved")).to_contain_text(f"Saved “{name}”")
    page.screenshot(path=str(artifacts / "analytics-console-saved.png"), full_page=True)

    page.get_by_role("link", name="Board", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/analytics/board$"))
    title = page.get_by_test_id("metric-name").get_by_text(name, exact=True)
    card = page.get_by_test_id("metric-card").filter(has=title)
    expect(card).to_have_attribute("data-state", "done")
    expect(card.get_by_test_id("metric-chart-bar")).to_have_count(3)
    expect(card.get_by_test_id("metric-status")).to_contain_text("3 rows")
    # the examples of a fresh stack are there, each with its own state
    expect(page.get_by_test_id("metric-name").get_by_text("Average reward by position", exact=True)).to_be_visible()
    for example in page.get_by_test_id("metric-card").all():
        expect(example).to_have_attribute("data-state", re.compile(r"^(done|error)$"))
    page.screenshot(path=str(artifacts / "analytics-board.png"), full_page=True)

    with page.expect_download() as board_download:
        card.get_by_test_id("metric-csv").click()
    assert board_download.value.suggested_filename.endswith(".csv")
    assert Path(board_download.value.path()).read_bytes().decode() == CSV
