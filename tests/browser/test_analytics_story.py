"""Analytics in a real browser against devstack (R-AN-3, R-AN-4, R-UI-1/2).

The story: an admin hires Kesha, who sets her password and is left the only popug who can take tasks (as in
the tasks story). The admin creates three tasks through the API; they go to Kesha, who completes one. Once
analytics has landed those events (they travel tasks/accounting outbox -> bus -> queue -> lake, so the test
waits), the admin opens the Dashboard under Insights: today's management earnings and popugs in the red, the
most expensive task of the day with its per-day bar chart, and the daily trends charts (management earnings,
fees vs rewards, popugs in the red) with the table, each matching what the API says. Picking "week" shows the
week's most expensive task. In the SQL console a SELECT returns the task's fee and reward, a row limit
truncates, an example loads with a click, and `DROP TABLE transactions` is refused with the API's words.
Kesha, a worker, gets "you need the admin role" at /analytics. Around it, focused checks with one API answer
rewritten in the browser: a loss and a day not closed yet on the charts, no task in a period, the range check,
the console's truncated/NULL/timeout cases, and a 403 from the API.

The API is peeked at only to wait for effects that travel through events and to compare what the page shows
with what the API says.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.test_staff_story import api_call, api_token, step, wait_until
from tests.browser.test_tasks_story import hire, make_sole_assignee, set_password, sign_in_as

pytestmark = pytest.mark.browser

# Fees and rewards reach accounting, then every event reaches the analytics lake, through the bus.
LEDGER_TIMEOUT_S = 30.0
LAKE_TIMEOUT_S = 60.0
MINUS = "\u2212"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def admin_token(devstack) -> str:
    return api_token(devstack, devstack.admin_email, devstack.admin_password)


def get_json(devstack, token: str, path: str) -> dict[str, Any]:
    answer = api_call(devstack, token, "GET", path)
    assert answer.status_code == 200, f"GET {path}: {answer.status_code} {answer.text}"
    return answer.json()


def wait_for_reward(devstack, token: str, task_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        items = get_json(devstack, token, "/accounting/me/transactions?limit=100")["items"]
        found[:] = [t for t in items if t["kind"] == "reward" and t["task_id"] == task_id]
        return bool(found)

    wait_until(check, LEDGER_TIMEOUT_S, f"a reward for task {task_id} in the ledger")
    return found[0]


def query(devstack, token: str, sql: str, max_rows: int | None = None) -> Any:
    body: dict[str, Any] = {"sql": sql}
    if max_rows is not None:
        body["max_rows"] = max_rows
    return api_call(devstack, token, "POST", "/analytics/query", body)


def fits_a_phone(tab: Page) -> None:
    tab.set_viewport_size(PHONE)
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{tab.url} scrolls sideways on a phone ({width}px wide)"


def bar(tab: Page, testid: str, day: str, series: str | None = None):
    selector = f'[data-testid="{testid}"][data-date="{day}"]'
    return tab.locator(selector + (f'[data-series="{series}"]' if series else ""))


# ---- the story -------------------------------------------------------------------------------------


def test_r_an_3_dashboard_most_expensive_task_and_sql_console(
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

    with step("the admin creates three tasks for Kesha, and she completes one"):
        tasks = []
        for n in range(3):
            title = f"Count the millet {suffix} #{n}"
            answer = api_call(devstack, admin_token, "POST", "/tasks", {"title": title, "jira_id": f"POP-{n + 1}"})
            assert answer.status_code == 201, answer.text
            assert answer.json()["assignee_id"] == kesha.employee_id, answer.json()
            tasks.append(answer.json())
        done = tasks[0]
        answer = api_call(devstack, kesha_token, "POST", f"/tasks/{done['task_id']}/complete")
        assert answer.status_code == 200, answer.text
        reward = wait_for_reward(devstack, kesha_token, done["task_id"])
        business_day = reward["business_day"]
        today = datetime.now(UTC).date().isoformat()

    with step("analytics lands the events (waited for through the API)"):
        sql = f"SELECT kind, amount FROM transactions WHERE task_id = '{done['task_id']}' ORDER BY kind"

        def landed() -> bool:
            answer = query(devstack, admin_token, sql)
            assert answer.status_code == 200, answer.text
            return len(answer.json()["rows"]) == 2

        wait_until(landed, LAKE_TIMEOUT_S, "the task's fee and reward in the analytics transactions table")

        def ranked() -> bool:
            met = get_json(devstack, admin_token, f"/analytics/most-expensive-task?period=day&date={business_day}")
            return met["task"] is not None and met["task"]["reward"] >= reward["amount"]

        wait_until(ranked, LAKE_TIMEOUT_S, f"a most expensive task on {business_day} worth at least the reward")

    with step("the admin finds Dashboard, Board and SQL console under Insights"):
        insights = admin.locator(".nav-group", has=admin.get_by_role("heading", name="Insights"))
        expect(insights.get_by_role("link")).to_have_text(["Dashboard", "Board", "SQL console"])
        dashboard = get_json(devstack, admin_token, "/analytics/dashboard")
        insights.get_by_test_id("nav-analytics").click()
        expect(admin).to_have_url(re.compile(r"/analytics$"))
        expect(admin.get_by_test_id("page-title")).to_have_text("Analytics dashboard")
        expect(admin.get_by_test_id("nav-analytics")).to_have_attribute("aria-current", "page")

    with step("today's management earnings and popugs in the red, as the API says"):
        earnings = admin.get_by_test_id("dash-earnings")
        expect(earnings).to_have_attribute("data-cents", str(dashboard["management_earnings"]))
        debt = re.compile(r"\bmoney-debt\b")
        if dashboard["management_earnings"] < 0:
            expect(earnings).to_have_class(debt)
            expect(earnings).to_contain_text(MINUS)
        else:
            expect(earnings).not_to_have_class(debt)
        expect(admin.get_by_test_id("dash-in-red")).to_have_text(str(dashboard["popugs_in_red"]))
        expect(admin.get_by_test_id("dash-date")).to_have_attribute("data-date", dashboard["date"])

    with step("the most expensive task of the day, with its bar"):
        if business_day != today:  # today was closed earlier in this session: the reward belongs to the next day
            admin.get_by_label("Date", exact=True).fill(business_day)
        met = get_json(devstack, admin_token, f"/analytics/most-expensive-task?period=day&date={business_day}")
        result = admin.get_by_test_id("met-result")
        expect(result).to_have_attribute("data-period", "day")
        expect(admin.get_by_test_id("met-task")).to_have_attribute("data-task-id", met["task"]["task_id"])
        expect(admin.get_by_test_id("met-task-title")).to_have_text(met["task"]["title"])
        expect(admin.get_by_test_id("met-reward")).to_have_attribute("data-cents", str(met["task"]["reward"]))
        chart = admin.get_by_test_id("met-chart")
        expect(chart.get_by_role("img")).to_have_attribute("aria-label", re.compile(r"Highest reward completed"))
        day_bar = bar(admin, "met-bar", business_day)
        expect(day_bar).to_have_attribute("data-cents", str(met["task"]["reward"]))
        expect(day_bar).to_have_attribute("data-task-id", met["task"]["task_id"])

    with step("the daily trends: three charts with bars for the day, and the table"):
        daily = get_json(devstack, admin_token, f"/analytics/daily?from={business_day}&to={business_day}")
        item = daily["items"][0]
        if business_day > today:  # today was closed earlier in this session: widen the range to hold the day
            admin.get_by_label("To", exact=True).fill(business_day)
            admin.get_by_test_id("trend-show").click()
        for testid in ("trend-earnings-chart", "trend-fees-rewards-chart", "trend-in-red-chart"):
            expect(admin.get_by_test_id(testid).locator("svg[role=img]")).to_have_attribute(
                "aria-label", re.compile(r"from .+ to ")
            )
        expect(bar(admin, "trend-earnings-bar", business_day)).to_have_attribute(
            "data-cents", str(item["management_earnings"])
        )
        assert item["fees"] and item["rewards"], item
        expect(bar(admin, "trend-fees-rewards-bar", business_day, "fees")).to_have_attribute(
            "data-cents", str(abs(item["fees"]))
        )
        expect(bar(admin, "trend-fees-rewards-bar", business_day, "rewards")).to_have_attribute(
            "data-cents", str(abs(item["rewards"]))
        )
        row = admin.locator(f'[data-testid="trend-row"][data-date="{business_day}"]')
        expect(row.get_by_test_id("trend-earnings")).to_have_attribute("data-cents", str(item["management_earnings"]))
        expect(row.get_by_test_id("trend-fees")).to_have_attribute("data-cents", str(item["fees"]))
        expect(row.get_by_test_id("trend-rewards")).to_have_attribute("data-cents", str(item["rewards"]))
        expect(row.get_by_test_id("trend-tasks")).to_have_text(str(item["tasks_completed"]))
        admin.screenshot(path=str(artifacts / "analytics-dashboard.png"), full_page=True)

    with step("picking the week shows the week's most expensive task and its days"):
        admin.get_by_label("Week").check()
        week = get_json(devstack, admin_token, f"/analytics/most-expensive-task?period=week&date={business_day}")
        expect(result).to_have_attribute("data-period", "week")
        expect(admin).to_have_url(re.compile(r"[?&]period=week(&|$)"))
        expect(admin.get_by_test_id("met-task")).to_have_attribute("data-task-id", week["task"]["task_id"])
        expect(admin.get_by_test_id("met-range")).to_contain_text("in the week from")
        with_task = [day for day in week["series"] if day["task"]]
        expect(admin.get_by_test_id("met-bar")).to_have_count(len(with_task))
        expect(bar(admin, "met-bar", business_day)).to_have_attribute("data-cents", str(met["task"]["reward"]))
        admin.reload()  # the choice is in the URL
        expect(admin.get_by_label("Week")).to_be_checked()
        expect(result).to_have_attribute("data-period", "week")

    with step("the SQL console: a SELECT shows the task's fee and reward"):
        admin.get_by_test_id("nav-analytics-sql").click()
        expect(admin.get_by_test_id("page-title")).to_have_text("SQL console")
        expect(admin.get_by_test_id("sql-tables")).to_contain_text("closed_days")
        editor = admin.get_by_label("SQL query")
        editor.fill(sql)
        editor.press("Control+Enter")
        expect(admin.get_by_test_id("sql-column")).to_have_text(["kind", "amount"])
        rows = admin.get_by_test_id("sql-row")
        expect(rows).to_have_count(2)
        expect(rows.nth(0).get_by_test_id("sql-cell")).to_have_text(["fee", re.compile(r"^-\d{4}$")])
        expect(rows.nth(1).get_by_test_id("sql-cell")).to_have_text(["reward", str(reward["amount"])])
        expect(admin.get_by_test_id("sql-status")).to_have_text(re.compile(r"^2 rows in [\d.]+ m?s\.$"))
        expect(admin.get_by_test_id("sql-truncated")).to_have_count(0)

    with step("a row limit truncates, and an example loads with a click"):
        editor.fill("SELECT transaction_id FROM transactions")
        admin.get_by_label("Row limit").fill("1")
        admin.get_by_test_id("sql-run").click()
        expect(rows).to_have_count(1)
        expect(admin.get_by_test_id("sql-truncated")).to_be_visible()
        admin.get_by_label("Row limit").fill("")
        admin.locator('[data-testid="sql-example"][data-example="closed-days"]').click()
        expect(editor).to_have_value(re.compile(r"FROM closed_days"))
        expect(editor).to_be_focused()
        admin.get_by_test_id("sql-run").click()
        expect(admin.get_by_test_id("sql-column")).to_have_text(
            ["business_day", "popugs_paid", "total_paid", "popugs_in_red"]
        )
        admin.screenshot(path=str(artifacts / "analytics-sql.png"), full_page=True)

    with step("DROP TABLE is refused, in the API's words"):
        editor.fill("DROP TABLE transactions")
        with admin.expect_response(lambda r: r.url.endswith("/api/analytics/query")) as answered:
            admin.get_by_test_id("sql-run").click()
        assert answered.value.status == 422, answered.value.text()
        refusal = answered.value.json()["error"]
        assert refusal["code"] == "query_refused", refusal
        error = admin.get_by_test_id("sql-error")
        expect(error).to_be_visible()
        expect(error).to_have_attribute("data-code", "query_refused")
        expect(error).to_contain_text("The query was refused.")
        words = refusal["message"].rstrip(".")
        expect(admin.get_by_test_id("sql-error-message")).to_contain_text(words[1:])
        expect(admin.get_by_test_id("sql-table")).to_have_count(0)
        assert query(devstack, admin_token, sql).json()["rows"], "the table is still there"

    with step("Kesha, a worker, is told she needs the admin role"):
        worker = second_tab()
        sign_in_as(worker, kesha)
        expect(worker.get_by_test_id("nav-analytics")).to_have_count(0)
        expect(worker.get_by_test_id("nav-analytics-sql")).to_have_count(0)
        worker.goto("/analytics")
        expect(worker.get_by_test_id("forbidden")).to_contain_text("You need the admin role")
        worker.goto("/analytics/sql")
        expect(worker.get_by_test_id("forbidden")).to_contain_text("You need the admin role")
        answer = api_call(devstack, kesha_token, "GET", "/analytics/dashboard")
        assert answer.status_code == 403, answer.text


# ---- focused checks (one API answer rewritten in the browser, everything else real) ----------------


def refuse(status: int, code: str, message: str) -> Any:
    return lambda route: route.fulfill(status=status, json={"error": {"code": code, "message": message}})


def _task(title: str, reward: int, jira_id: str | None = None) -> dict[str, Any]:
    return {"task_id": str(uuid.uuid4()), "title": title, "jira_id": jira_id, "reward": reward}


def _daily(day: str, earnings: int, fees: int, rewards: int, in_red: int | None, **extra: int) -> dict[str, Any]:
    return {
        "date": day, "management_earnings": earnings, "fees": fees, "rewards": rewards,
        "payouts": extra.get("payouts", 0), "tasks_completed": extra.get("tasks", 0),
        "popugs_paid": extra.get("paid", 0), "popugs_in_red": in_red,
    }  # fmt: skip


def test_r_an_3_dashboard_shows_a_loss_an_open_day_and_a_period_without_tasks(signed_in: Page, artifacts):
    page = signed_in
    big = _task("Polish the perch", 3900, "POP-9")
    asked: list[str] = []

    def most_expensive(route: Route) -> None:
        asked.append(route.request.url)
        if "period=month" in route.request.url:
            route.fulfill(json={"period": "month", "from": "2026-11-01", "to": "2026-11-30", "task": None,
                                "series": [{"date": "2026-11-01", "task": None}]})  # fmt: skip
            return
        series = [{"date": "2026-11-26", "task": None}, {"date": "2026-11-27", "task": big}]
        route.fulfill(json={"period": "day", "from": "2026-11-27", "to": "2026-11-27", "task": big, "series": series})

    page.route(
        re.compile(r"/api/analytics/dashboard"),
        lambda route: route.fulfill(json={"date": "2026-11-27", "management_earnings": -1250, "popugs_in_red": 3}),
    )
    page.route(re.compile(r"/api/analytics/most-expensive-task\?"), most_expensive)
    items = [
        _daily("2026-11-25", 1500, 4500, 3000, 1, paid=2, tasks=1),
        _daily("2026-11-26", -2500, 1000, 3500, 0, paid=1, tasks=2),
        _daily("2026-11-27", 0, 0, 0, None),
    ]
    page.route(
        re.compile(r"/api/analytics/daily\?"),
        lambda route: route.fulfill(json={"from": "2026-11-25", "to": "2026-11-27", "items": items}),
    )
    page.goto("/analytics?period=day&date=2026-11-27&from=2026-11-25&to=2026-11-27")

    earnings = page.get_by_test_id("dash-earnings")
    expect(earnings).to_have_text(f"{MINUS}$12.50")
    expect(earnings).to_have_class(re.compile(r"\bmoney-debt\b"))
    expect(page.get_by_test_id("dash-in-red")).to_have_text("3")

    expect(page.get_by_test_id("met-task-title")).to_have_text("Polish the perch")
    expect(page.get_by_test_id("met-task").get_by_test_id("task-jira")).to_have_text("POP-9")
    expect(page.get_by_test_id("met-reward")).to_have_text("$39.00")
    expect(page.get_by_test_id("met-bar")).to_have_count(1)  # no bar for a day without a completed task
    expect(page.get_by_test_id("met-bar")).to_have_attribute("data-date", "2026-11-27")
    assert "period=day" in asked[0] and "date=2026-11-27" in asked[0], asked

    expect(page.get_by_test_id("trend-earnings-bar")).to_have_count(3)
    expect(bar(page, "trend-earnings-bar", "2026-11-26")).to_have_class(re.compile(r"\bbar-loss\b"))
    expect(page.get_by_test_id("trend-fees-rewards-bar")).to_have_count(6)
    expect(bar(page, "trend-fees-rewards-bar", "2026-11-26", "rewards")).to_have_attribute("data-cents", "3500")
    expect(page.get_by_test_id("trend-in-red-bar")).to_have_count(2)  # the open day has no figure yet
    expect(page.get_by_test_id("trend-in-red-chart").locator("svg")).to_have_attribute(
        "aria-label", re.compile(r"the most 1 on .*; 1 day not closed yet\.")
    )
    expect(page.get_by_test_id("trend-earnings-chart").locator("svg")).to_have_attribute(
        "aria-label", re.compile(rf"{MINUS}\$10\.00 in all")
    )
    expect(page.get_by_test_id("trend-total-earnings")).to_have_text(f"{MINUS}$10.00")
    expect(page.get_by_test_id("trend-total-tasks")).to_have_text("3")
    expect(
        page.locator('[data-testid="trend-row"][data-date="2026-11-27"]').get_by_test_id("trend-in-red")
    ).to_have_text("—")
    for chart in ("met-chart", "trend-earnings-chart", "trend-fees-rewards-chart", "trend-in-red-chart"):
        expect(page.get_by_test_id(chart).locator("svg > title")).to_have_count(1)
    page.screenshot(path=str(artifacts / "analytics-dashboard-rewritten.png"), full_page=True)

    page.get_by_test_id("met-period-month").check()
    expect(page.get_by_test_id("met-none")).to_contain_text("No task was completed in November 2026.")
    expect(page.get_by_test_id("met-bar")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"period=month&date=2026-11-27&from=2026-11-25&to=2026-11-27$"))

    # More than 366 days is refused before asking; the API's own refusal is shown as it says it.
    page.get_by_label("From", exact=True).fill("2024-01-01")
    page.get_by_test_id("trend-show").click()
    expect(page.get_by_test_id("trend-to-error")).to_have_text("Choose at most 366 days.")
    page.unroute(re.compile(r"/api/analytics/daily\?"))
    page.route(re.compile(r"/api/analytics/daily\?"), refuse(422, "validation_error", "from: must be a date"))
    page.get_by_label("From", exact=True).fill("2026-11-01")
    page.get_by_test_id("trend-show").click()
    expect(page.get_by_test_id("trend-error")).to_have_text("From: must be a date.")
    expect(page.get_by_test_id("dash-earnings")).to_be_visible()  # the other parts stay
    fits_a_phone(page)


def test_r_an_3_sql_console_truncated_nulls_timeouts_and_keyboard(signed_in: Page, artifacts):
    page = signed_in
    sent: list[dict[str, Any]] = []

    def answer(route: Route) -> None:
        body = route.request.post_data_json
        sent.append(body)
        if "sleep" in body["sql"]:
            refuse(422, "query_timeout", "the query ran longer than 20 seconds and was stopped")(route)
            return
        route.fulfill(json={"columns": ["business_day", "popugs_in_red", "note"],
                            "rows": [["2026-11-27", None, "x"], ["2026-11-26", 2, None]],
                            "truncated": True, "elapsed_ms": 1234})  # fmt: skip

    page.route("**/api/analytics/query", answer)
    page.goto("/analytics/sql")
    editor = page.get_by_label("SQL query")
    editor.fill("   ")
    page.get_by_test_id("sql-run").click()
    expect(page.get_by_test_id("sql-input-error")).to_have_text("Write a query first, like SELECT * FROM closed_days.")
    assert not sent

    editor.fill("SELECT * FROM closed_days")
    page.get_by_label("Row limit").fill("2")
    editor.press("Control+Enter")
    expect(page.get_by_test_id("sql-row")).to_have_count(2)
    assert sent[-1] == {"sql": "SELECT * FROM closed_days", "max_rows": 2}, sent
    expect(page.get_by_test_id("sql-status")).to_have_text("2 rows in 1.2 s.")
    expect(page.get_by_test_id("sql-truncated")).to_contain_text("Only the first 2 rows are shown")
    first = page.get_by_test_id("sql-row").first.get_by_test_id("sql-cell")
    expect(first).to_have_text(["2026-11-27", "NULL", "x"])
    expect(first.nth(1)).to_have_class(re.compile(r"\bmuted\b"))
    page.screenshot(path=str(artifacts / "analytics-sql-rewritten.png"), full_page=True)
    fits_a_phone(page)
    page.screenshot(path=str(artifacts / "analytics-sql-mobile.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_label("Row limit").fill("5000")
    page.get_by_test_id("sql-run").click()
    expect(page.get_by_test_id("sql-max-rows-error")).to_contain_text("from 1 to 1000")
    assert len(sent) == 1, sent
    page.get_by_label("Row limit").fill("")

    editor.fill("SELECT sleep(60)")
    page.get_by_test_id("sql-run").click()
    expect(page.get_by_test_id("sql-error")).to_have_attribute("data-code", "query_timeout")
    expect(page.get_by_test_id("sql-error")).to_have_text(
        "The query took too long. The query ran longer than 20 seconds and was stopped."
    )
    expect(page.get_by_test_id("sql-row")).to_have_count(0)

    page.goto("/")  # the query is kept for this tab
    page.goto("/analytics/sql")
    expect(page.get_by_label("SQL query")).to_have_value("SELECT sleep(60)")


def test_r_an_3_a_refusal_by_the_api_says_who_may_open_the_dashboard(signed_in: Page):
    page = signed_in
    page.route(re.compile(r"/api/analytics/"), refuse(403, "forbidden", "admins only"))
    page.goto("/analytics")
    expect(page.get_by_test_id("forbidden")).to_contain_text("You need the admin role")


def test_issue_18_the_dashboard_says_which_business_day_and_moment_each_figure_is_for(signed_in: Page):
    """Today was closed early: its popugs in the red are those counted at its close (2), while balances now put 11
    in debt. Each figure's label says which business day and which moment it is for, and "now" is shown as the
    open business day new money counts towards."""
    page = signed_in
    days = {
        None: {"date": "2026-11-27", "management_earnings": 1500, "popugs_in_red": 2, "closed": True},
        "2026-11-28": {"date": "2026-11-28", "management_earnings": -400, "popugs_in_red": 11, "closed": False},
    }
    asked: list[str | None] = []

    def dashboard(route: Route) -> None:
        found = re.search(r"date=(\d{4}-\d\d-\d\d)", route.request.url)
        asked.append(found.group(1) if found else None)
        route.fulfill(json=days[asked[-1]])

    page.route(re.compile(r"/api/analytics/dashboard"), dashboard)
    page.route(re.compile(r"/api/analytics/(most-expensive-task|daily)\?"), refuse(504, "query_timeout", "slow"))
    page.goto("/analytics")
    expect(page.get_by_test_id("dash-in-red")).to_have_text("2")
    expect(page.get_by_test_id("dash-in-red-label")).to_have_text(re.compile(r"^Popugs in the red at the close of "))
    expect(page.get_by_test_id("dash-earnings-label")).to_have_text(re.compile(r"^Management earnings of .+\d$"))
    expect(page.get_by_test_id("dash-date")).to_contain_text("(closed)")
    expect(page.get_by_test_id("dash-now-in-red")).to_have_text("11")
    expect(page.get_by_test_id("dash-now-in-red-label")).to_have_text("Popugs in the red now")
    so_far = re.compile(r"^Management earnings of .+ so far$")
    expect(page.get_by_test_id("dash-now-earnings-label")).to_have_text(so_far)
    expect(page.get_by_test_id("dash-now-date")).to_have_attribute("data-date", "2026-11-28")
    assert asked == [None, "2026-11-28"], asked
