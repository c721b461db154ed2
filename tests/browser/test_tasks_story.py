"""Tasks in a real browser against devstack (issue 4, item 7).

The story: an admin hires two popugs, who set their passwords from the invitation links (R-AUTH-4);
one, Rio, is made a manager, so Kesha is the only popug who can take tasks (R-TASK-2: worker and neither
manager nor admin; the admin is not one either). Kesha creates a task in the UI and is told it went to her
(R-TASK-1/2); she finds it under My tasks and marks it done (R-TASK-4, R-TASK-5). Rio creates tasks that go
to Kesha by name; a task done behind the page's back gets a readable 409 and the list refreshes. Rio
shuffles after confirming and watches the job reach done (R-TASK-3); All tasks filters by status and
assignee and names the assignee (R-TASK-5). Every task page fits a phone. Around it, focused checks with
one API answer rewritten in the browser: a running shuffle followed instead of a second one, a failed
shuffle, the API's 422/409 on the create form, not_assignee on Mark done, paging.

Determinism: the devstack is shared by the whole session, and every popug earlier tests hired can take
tasks. Before creating anything the story stops everyone but Kesha from taking tasks (through the auth
API, as an admin would), then waits until the tasks context has applied it: the assignee pool is peeked
in the emulator, as the mailbox is, only to wait, never as what the test is about.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from playwright.sync_api import Page, Route, expect

from tests.browser.test_staff_story import (
    MAIL_TIMEOUT_S,
    api_call,
    api_token,
    invitation_link,
    sign_in_tab,
    step,
    unique_email,
    wait_until,
)

pytestmark = pytest.mark.browser

PASSWORD = "Sunflower-seeds-42"
# Role changes reach the tasks context as events (auth outbox -> bus -> queue -> consumer).
POOL_TIMEOUT_S = 30.0
# The shuffle is a job driven by the tasks table's stream: a cold start or two.
SHUFFLE_TIMEOUT_MS = 45_000
PHONE = {"width": 390, "height": 844}
NEVER_ASSIGNEES = {"manager", "admin"}
WORKER_NAV = ["My profile", "My tasks", "Create task", "My balance", "Staff", "Org chart"]
MANAGER_NAV = ["My profile", "My tasks", "All tasks", "Create task", "Shuffle", "My balance", "Staff", "Org chart"]


@dataclass(frozen=True)
class Popug:
    employee_id: str
    name: str
    email: str
    password: str = PASSWORD


# ---- setup through the API (never what the test is about) -----------------------------------------


@pytest.fixture
def admin_token(devstack) -> str:
    return api_token(devstack, devstack.admin_email, devstack.admin_password)


def hire(devstack, admin_token: str, name: str) -> Popug:
    email = unique_email(name.split()[0].lower())
    answer = api_call(
        devstack, admin_token, "POST", "/staff/employees", {"name": name, "email": email, "position": "Seed sorter"}
    )
    assert answer.status_code == 201, answer.text
    return Popug(answer.json()["employee_id"], name, email)


def set_password(devstack, popug: Popug) -> None:
    """What the set-password page does with the invitation link (the staff story drives that page itself)."""
    link = invitation_link(devstack, popug.email, MAIL_TIMEOUT_S)
    token = parse_qs(urlsplit(link).query)["token"][0]
    answer = requests.post(
        f"{devstack.api_url}/auth/password", json={"token": token, "password": popug.password}, timeout=30
    )
    assert answer.status_code == 200, answer.text


def everything(devstack, token: str, path: str) -> list[dict[str, Any]]:
    """Every item of a list endpoint, following next_cursor."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = f"limit=100&cursor={cursor}" if cursor else "limit=100"
        answer = api_call(devstack, token, "GET", f"{path}{'&' if '?' in path else '?'}{query}")
        assert answer.status_code == 200, answer.text
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if not cursor:
            return items


def can_take_tasks(account: dict[str, Any]) -> bool:
    roles = set(account["roles"])
    return bool(account["active"]) and "worker" in roles and not roles & NEVER_ASSIGNEES


class TasksStore:
    """A read-only look at the tasks table in devstack's emulator: what tasks knows of each popug."""

    def __init__(self, devstack) -> None:
        self.dynamodb = boto3.client(
            "dynamodb", endpoint_url=devstack.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        names = [n for n in self.dynamodb.list_tables()["TableNames"] if n.endswith("-TasksTable")]
        assert len(names) == 1, f"expected one tasks table in the emulator, found {names}"
        self.table = names[0]

    def _item(self, pk: str, sk: str) -> dict[str, Any]:
        return self.dynamodb.get_item(TableName=self.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item", {})

    def pool(self) -> set[str]:
        """Who can take tasks now, as the tasks context sees it (R-TASK-2)."""
        return set(self._item("POOL", "POOL").get("ids", {}).get("SS", []))

    def version(self, account_id: str) -> int:
        """The newest account version (auth's `version`) the tasks context has applied for this popug."""
        return int(self._item(f"ACCOUNT#{account_id}", "ACCOUNT").get("version", {}).get("N", "0"))


def make_sole_assignee(devstack, admin_token: str, keep: Popug, promote: Popug) -> None:
    """Leave `keep` the only popug who can take tasks: `promote` becomes a manager, and every other popug
    who could take tasks (hired by earlier tests) loses the worker role; then wait until tasks knows."""
    # A hire still on its way to auth would join the pool later: wait until every active employee has an account.
    wait_until(
        lambda: (
            {e["employee_id"] for e in everything(devstack, admin_token, "/staff/employees?status=active")}
            <= {a["account_id"] for a in everything(devstack, admin_token, "/auth/accounts")}
        ),
        POOL_TIMEOUT_S,
        "an account for every active employee",
    )
    changed: dict[str, int] = {}
    for account in everything(devstack, admin_token, "/auth/accounts"):
        if account["account_id"] == keep.employee_id:
            continue
        if account["account_id"] == promote.employee_id:
            roles = ["worker", "manager"]
        elif can_take_tasks(account):
            roles = [r for r in account["own_roles"] if r != "worker"]
            if "worker" in account["roles"] and "worker" not in account["own_roles"]:
                roles.append("manager")  # their department grants worker: a manager still takes no tasks
        else:
            continue
        answer = api_call(
            devstack, admin_token, "PUT", f"/auth/accounts/{account['account_id']}/roles", {"roles": roles}
        )
        assert answer.status_code == 200, answer.text
        assert not can_take_tasks(answer.json()), answer.json()
        changed[account["account_id"]] = answer.json()["version"]

    store = TasksStore(devstack)
    # Caught up with every change made here (so no older event can still add someone), and only Kesha left.
    wait_until(
        lambda: all(store.version(a) >= v for a, v in changed.items()) and store.pool() == {keep.employee_id},
        POOL_TIMEOUT_S,
        f"{keep.name} becoming the only popug who can take tasks (pool now {store.pool()})",
    )


def sign_in_as(tab: Page, popug: Popug) -> None:
    tab.goto("/")
    sign_in_tab(tab, popug.email, popug.password)
    expect(tab.get_by_test_id("user-email")).to_have_text(popug.email)


def fits_a_phone(tab: Page, path: str, ready: str) -> None:
    tab.goto(path)
    expect(tab.get_by_test_id(ready).first).to_be_visible()
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width}px wide)"


def task_item(tab: Page, task_id: str):
    return tab.locator(f'[data-testid="task-item"][data-task-id="{task_id}"]')


def task_row(tab: Page, task_id: str):
    return tab.locator(f'[data-testid="task-row"][data-task-id="{task_id}"]')


def create_in_ui(tab: Page, title: str, **optional: str) -> dict[str, Any]:
    """Fill and send the Create task form; the API's answer (201)."""
    tab.get_by_label("Title").fill(title)
    if "jira_id" in optional:
        tab.get_by_label("Jira id (optional)").fill(optional["jira_id"])
    if "description" in optional:
        tab.get_by_label("Description (optional)").fill(optional["description"])
    if "due_date" in optional:
        tab.get_by_label("Due date (optional)").fill(optional["due_date"])
    with tab.expect_response(lambda r: r.url.endswith("/api/tasks") and r.request.method == "POST") as answered:
        tab.get_by_role("button", name="Create task").click()
    assert answered.value.status == 201, answered.value.text()
    return answered.value.json()


# ---- the story -------------------------------------------------------------------------------------


def test_r_task_1_to_5_create_see_complete_shuffle_and_list_tasks(devstack, admin_token, second_tab, artifacts):
    suffix = uuid.uuid4().hex[:4]
    kesha = hire(devstack, admin_token, f"Kesha {suffix}")
    rio = hire(devstack, admin_token, f"Rio {suffix}")

    with step("both popugs set a password from their invitation"):
        set_password(devstack, kesha)
        set_password(devstack, rio)

    with step("Rio is made a manager, and Kesha is left the only popug who can take tasks"):
        make_sole_assignee(devstack, admin_token, keep=kesha, promote=rio)

    worker = second_tab()
    with step("Kesha, a worker, sees the task pages a worker may use"):
        sign_in_as(worker, kesha)
        expect(worker.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(WORKER_NAV)

    with step("the form says what is wrong before sending anything"):
        worker.get_by_test_id("nav-create-task").click()
        expect(worker.get_by_test_id("page-title")).to_have_text("Create task")
        expect(worker.get_by_test_id("nav-create-task")).to_have_attribute("aria-current", "page")
        worker.get_by_role("button", name="Create task").click()
        expect(worker.get_by_test_id("task-title-error")).to_have_text("Enter a title.")
        expect(worker.get_by_test_id("task-form-error")).to_have_text("Please correct the marked fields.")
        expect(worker.get_by_label("Title")).to_be_focused()
        expect(worker.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
        worker.get_by_label("Title").fill("Polish the [perch]")
        worker.get_by_label("Jira id (optional)").fill("UBERPOP42")
        worker.get_by_role("button", name="Create task").click()
        expect(worker.get_by_test_id("task-title-error")).to_have_text(
            "Leave [ and ] out of the title: put the Jira id in its own field."
        )
        expect(worker.get_by_test_id("task-jira-id-error")).to_have_text(
            "Write the Jira id like UBERPOP-42: capitals and digits, a dash, then a number."
        )
        worker.get_by_label("Description (optional)").fill("Both ends, with the soft cloth.")
        expect(worker.get_by_test_id("task-description-hint")).to_have_text("31 of 4000 characters.")

    first_title = f"Polish the perch {suffix}"
    with step("Kesha creates a task and is told who got it: herself, the only popug who can take tasks"):
        first = create_in_ui(worker, first_title, jira_id="uberpop-42", due_date="2030-12-31")
        assert first["assignee_id"] == kesha.employee_id and first["jira_id"] == "UBERPOP-42", first
        assert first["created_by"] == kesha.employee_id and first["status"] == "open", first
        assert first["description"] == "Both ends, with the soft cloth." and first["due_date"] == "2030-12-31", first
        created = worker.get_by_test_id("task-created")
        expect(created.get_by_test_id("task-created-assignee")).to_have_text(kesha.name)
        expect(created.get_by_test_id("task-created-text")).to_have_text(f"“{first_title}” went to {kesha.name} (you).")
        expect(created.get_by_test_id("task-jira")).to_have_text("UBERPOP-42")
        expect(created.get_by_test_id("task-due")).to_contain_text("2030")
        worker.screenshot(path=str(artifacts / "task-created.png"), full_page=True)

    with step("Kesha finds it under My tasks, open, and not under Done"):
        created.get_by_test_id("task-created-mine").click()
        expect(worker).to_have_url(re.compile(r"/tasks/mine$"))
        expect(worker.get_by_test_id("my-tasks-tab-open")).to_have_attribute("aria-selected", "true")
        item = task_item(worker, first["task_id"])
        expect(item.get_by_test_id("task-title")).to_have_text(first_title)
        expect(item.get_by_test_id("task-jira")).to_have_text("UBERPOP-42")
        expect(item.get_by_test_id("task-description")).to_have_text("Both ends, with the soft cloth.")
        expect(item.get_by_test_id("task-due")).to_contain_text("Due")
        worker.get_by_test_id("my-tasks-tab-done").click()
        expect(worker).to_have_url(re.compile(r"/tasks/mine\?status=done$"))
        expect(worker.get_by_test_id("my-tasks-status")).to_have_text("Nothing done in the last 30 days yet.")
        expect(worker.get_by_test_id("task-item")).to_have_count(0)
        worker.get_by_test_id("my-tasks-tab-done").press("ArrowLeft")  # tabs work with the keyboard too
        expect(worker.get_by_test_id("my-tasks-tab-open")).to_be_focused()
        expect(worker.get_by_test_id("my-tasks-tab-open")).to_have_attribute("aria-selected", "true")
        expect(item).to_be_visible()
        worker.screenshot(path=str(artifacts / "my-tasks-open.png"), full_page=True)

    with step("Kesha marks it done: it leaves Open and appears under Done"):
        item.get_by_role("button", name=f"Mark done: “UBERPOP-42 {first_title}”").click()
        expect(worker.get_by_test_id("my-tasks-status")).to_contain_text(f"“UBERPOP-42 {first_title}” is done.")
        expect(item).to_have_count(0)
        worker.get_by_test_id("my-tasks-tab-done").click()
        expect(item).to_have_attribute("data-status", "done")
        expect(item.get_by_test_id("task-completed-at")).to_contain_text("Done")
        expect(item.get_by_test_id("task-complete")).to_have_count(0)
        worker.screenshot(path=str(artifacts / "my-tasks-done.png"), full_page=True)

    manager = second_tab()
    second_title = f"Refill the seed bowl {suffix}"
    with step("Rio, now a manager, sees the manager's pages and creates a task: it goes to Kesha, by name"):
        sign_in_as(manager, rio)
        expect(manager.get_by_test_id("user-roles")).to_contain_text("manager")
        expect(manager.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(MANAGER_NAV)
        manager.get_by_test_id("nav-create-task").click()
        second = create_in_ui(manager, second_title, description="The big bowl\nby the window.")
        assert second["assignee_id"] == kesha.employee_id, second
        expect(manager.get_by_test_id("task-created-text")).to_have_text(f"“{second_title}” went to {kesha.name}.")
        expect(manager.get_by_test_id("task-created-mine")).to_have_count(0)  # not Rio's task

    with step("a task done behind the page's back: Mark done says so, readably, and the list refreshes"):
        worker.get_by_test_id("my-tasks-tab-open").click()
        stale = task_item(worker, second["task_id"])
        expect(stale.get_by_test_id("task-description")).to_have_text("The big bowl\nby the window.")
        kesha_token = api_token(devstack, kesha.email, kesha.password)
        done = api_call(devstack, kesha_token, "POST", f"/tasks/{second['task_id']}/complete")
        assert done.status_code == 200, done.text
        with worker.expect_response(f"**/api/tasks/{second['task_id']}/complete") as answered:
            stale.get_by_test_id("task-complete").click()
        assert answered.value.status == 409
        expect(worker.get_by_test_id("my-tasks-error")).to_have_text(
            f"“{second_title}” could not be marked done. This task is already done."
        )
        expect(stale).to_have_count(0)
        worker.screenshot(path=str(artifacts / "my-tasks-already-done.png"), full_page=True)

    third_title = f"Count the sunflower seeds {suffix}"
    with step("Rio creates one more task, from the result's own button"):
        manager.get_by_test_id("task-create-another").click()
        expect(manager.get_by_label("Title")).to_be_focused()
        expect(manager.get_by_label("Title")).to_have_value("")
        third = create_in_ui(manager, third_title)
        assert third["assignee_id"] == kesha.employee_id, third

    with step("Rio shuffles after confirming, and watches the job reach done"):
        manager.get_by_test_id("nav-shuffle").click()
        expect(manager.get_by_test_id("page-title")).to_have_text("Shuffle tasks")
        manager.get_by_test_id("shuffle-start").click()
        dialog = manager.get_by_test_id("shuffle-dialog")
        expect(dialog).to_contain_text("Shuffle every open task?")
        manager.screenshot(path=str(artifacts / "shuffle-confirm.png"))
        dialog.get_by_test_id("shuffle-dialog-no").click()  # changing one's mind first: nothing starts
        expect(dialog).to_have_count(0)
        expect(manager.get_by_test_id("shuffle-job")).to_have_count(0)
        expect(manager.get_by_test_id("shuffle-start")).to_be_focused()

        polls: list[float] = []
        manager.on("request", lambda r: polls.append(time.monotonic()) if "/api/tasks/shuffles/" in r.url else None)
        manager.get_by_test_id("shuffle-start").click()
        with manager.expect_response("**/api/tasks/shuffle") as answered:
            manager.get_by_test_id("shuffle-dialog-yes").click()
        assert answered.value.status == 202, answered.value.text()
        job_id = answered.value.json()["job_id"]
        job = manager.get_by_test_id("shuffle-job")
        expect(job).to_have_attribute("data-job-id", job_id)
        expect(manager).to_have_url(re.compile(rf"/tasks/shuffle\?job={job_id}$"))
        expect(job).to_have_attribute("data-status", "done", timeout=SHUFFLE_TIMEOUT_MS)
        final = api_call(devstack, admin_token, "GET", f"/tasks/shuffles/{job_id}").json()
        assert final["status"] == "done" and final["done"] >= 1, final  # at least Rio's last task was open
        reassigned = final["done"]
        expect(job.get_by_test_id("shuffle-job-title")).to_have_text("Shuffle finished")
        expect(job.get_by_test_id("shuffle-result")).to_have_text(
            re.compile(rf"^Done: {reassigned} tasks? reassigned\.")
        )
        progress = job.get_by_test_id("shuffle-progress")
        expect(progress).to_have_attribute("max", str(final["total"]))
        assert progress.evaluate("bar => bar.value === bar.max"), "the bar of a finished shuffle is full"
        expect(manager.get_by_test_id("shuffle-start")).to_have_text("Shuffle again")
        expect(manager.get_by_test_id("shuffle-start")).to_be_enabled()
        assert polls, "the page never asked for the job's progress"
        gaps = [b - a for a, b in itertools.pairwise(polls)]
        assert all(gap >= 0.3 for gap in gaps), f"polled faster than every ~500 ms: {gaps}"
        manager.screenshot(path=str(artifacts / "shuffle-done.png"), full_page=True)

    with step("the shuffled task is still Kesha's (she is the only one who can take it)"):
        worker.reload()
        expect(task_item(worker, third["task_id"]).get_by_test_id("task-title")).to_have_text(third_title)

    with step("All tasks filters by assignee and status, with the assignee's name"):
        manager.get_by_test_id("nav-all-tasks").click()
        expect(manager.get_by_test_id("page-title")).to_have_text("All tasks")
        manager.get_by_label("Assignee").select_option(kesha.employee_id)
        expect(manager).to_have_url(re.compile(rf"/tasks\?assignee_id={kesha.employee_id}$"))
        rows = manager.get_by_test_id("task-row")
        for task in (first, second, third):
            expect(task_row(manager, task["task_id"])).to_have_count(1)
        expect(rows.get_by_test_id("task-assignee-name").filter(has_not_text=kesha.name)).to_have_count(0)

        manager.get_by_label("Status").select_option("done")
        expect(manager).to_have_url(re.compile(rf"/tasks\?status=done&assignee_id={kesha.employee_id}$"))
        expect(rows).to_have_count(2)  # Kesha is new: her two done tasks, newest first
        expect(rows.get_by_test_id("task-title")).to_have_text([second_title, first_title])
        expect(rows.get_by_test_id("task-status")).to_have_text(["Done", "Done"])
        expect(rows.get_by_test_id("task-assignee-name")).to_have_text([kesha.name, kesha.name])
        expect(manager.get_by_test_id("tasks-status-text")).to_have_text("Showing 2 tasks.")
        manager.screenshot(path=str(artifacts / "all-tasks-done.png"), full_page=True)

        manager.get_by_label("Status").select_option("open")
        expect(task_row(manager, third["task_id"])).to_have_count(1)
        expect(rows.get_by_test_id("task-status").filter(has_not_text="Open")).to_have_count(0)

        manager.reload()  # the filters live in the address
        expect(manager.get_by_label("Status")).to_have_value("open")
        expect(manager.get_by_label("Assignee")).to_have_value(kesha.employee_id)
        expect(task_row(manager, third["task_id"])).to_have_count(1)

    with step("every task page fits a phone without sideways scrolling"):
        phone = second_tab(**PHONE)
        sign_in_as(phone, kesha)
        fits_a_phone(phone, "/tasks/mine", "task-item")
        phone.screenshot(path=str(artifacts / "my-tasks-mobile.png"), full_page=True)
        fits_a_phone(phone, "/tasks/mine?status=done", "task-item")
        fits_a_phone(phone, "/tasks/new", "task-form")
        phone.screenshot(path=str(artifacts / "create-task-mobile.png"), full_page=True)
        phone_manager = second_tab(**PHONE)
        sign_in_as(phone_manager, rio)
        fits_a_phone(phone_manager, f"/tasks?assignee_id={kesha.employee_id}", "task-row")
        phone_manager.screenshot(path=str(artifacts / "all-tasks-mobile.png"), full_page=True)
        fits_a_phone(phone_manager, f"/tasks/shuffle?job={job_id}", "shuffle-result")
        phone_manager.screenshot(path=str(artifacts / "shuffle-mobile.png"), full_page=True)


# ---- focused checks (one API answer rewritten in the browser, everything else real) ----------------


def refuse(status: int, code: str, message: str) -> Any:
    """A route handler answering with the API's error shape."""
    return lambda route: route.fulfill(status=status, json={"error": {"code": code, "message": message}})


def _job(job_id: str, status: str, total: int, done: int, skipped: int = 0, error: str | None = None) -> dict[str, Any]:
    return {
        "job_id": job_id, "status": status, "total": total, "done": done, "skipped": skipped,
        "started_at": "2026-11-27T10:00:00Z", "started_by": str(uuid.uuid4()),
        "finished_at": None if status == "running" else "2026-11-27T10:00:05Z", "error": error,
    }  # fmt: skip


def next_held(page: Page, held: list[Route], timeout: float = 5.0) -> Route:
    """The next intercepted request the test answers itself (the page waits for it meanwhile)."""
    deadline = time.monotonic() + timeout
    while not held:
        assert time.monotonic() < deadline, "the page did not ask"
        page.wait_for_timeout(20)
    return held.pop(0)


def test_r_task_3_a_second_shuffle_follows_the_running_one_until_done(signed_in: Page, artifacts):
    page = signed_in
    job_id = str(uuid.uuid4())
    running = f"a shuffle is already running (job {job_id}: 1 of 4 tasks reassigned); wait for it to finish"
    page.route("**/api/tasks/shuffle", refuse(409, "shuffle_running", running))
    held: list[Route] = []
    asked_at: list[float] = []

    def hold(route: Route) -> None:
        asked_at.append(time.monotonic())
        held.append(route)

    page.route(f"**/api/tasks/shuffles/{job_id}", hold)

    page.get_by_test_id("nav-shuffle").click()
    page.get_by_test_id("shuffle-start").click()
    page.get_by_test_id("shuffle-dialog-yes").click()
    job = page.get_by_test_id("shuffle-job")
    expect(job.get_by_test_id("shuffle-note")).to_have_text(
        "A shuffle was already running, so no new one was started. This is its progress."
    )
    expect(page.get_by_test_id("shuffle-start")).to_be_disabled()
    expect(page.get_by_test_id("shuffle-start")).to_have_text("Shuffle running…")

    answered_at = []
    for job_state, words in [
        (_job(job_id, "running", 4, 1), "1 of 4 open tasks handled; 1 reassigned so far."),
        (_job(job_id, "running", 4, 2, 1), "3 of 4 open tasks handled; 2 reassigned so far."),
    ]:
        next_held(page, held).fulfill(json=job_state)
        answered_at.append(time.monotonic())
        expect(job.get_by_test_id("shuffle-progress-text")).to_have_text(words)
        bar = job.get_by_test_id("shuffle-progress")
        expect(bar).to_have_attribute("value", str(job_state["done"] + job_state["skipped"]))
        expect(bar).to_have_attribute("max", "4")
        expect(job).to_have_attribute("data-status", "running")
    page.screenshot(path=str(artifacts / "shuffle-running.png"), full_page=True)

    next_held(page, held).fulfill(json=_job(job_id, "done", 4, 3, 1))
    expect(job).to_have_attribute("data-status", "done")
    expect(job.get_by_test_id("shuffle-job-title")).to_have_text("Shuffle finished")
    expect(job.get_by_test_id("shuffle-progress")).to_have_attribute("value", "4")
    expect(job.get_by_test_id("shuffle-result")).to_have_text(
        "Done: 3 tasks reassigned. 1 task was completed before the shuffle reached it, so kept."
    )
    expect(page.get_by_test_id("shuffle-error")).to_be_hidden()
    expect(page.get_by_test_id("shuffle-start")).to_be_enabled()
    expect(page).to_have_url(re.compile(rf"/tasks/shuffle\?job={job_id}$"))
    # About every 500 ms: each poll waits for the previous answer, then half a second.
    waits = [asked - answered for answered, asked in zip(answered_at, asked_at[1:], strict=False)]
    assert len(waits) == 2 and all(0.4 <= wait <= 2.0 for wait in waits), waits

    # Done means done: no more polls, not even after leaving and coming back through history.
    page.get_by_test_id("nav-profile").click()
    page.wait_for_timeout(1200)
    assert len(asked_at) == 3 and not held, asked_at


def test_r_task_3_a_failed_shuffle_says_so_and_can_be_run_again(signed_in: Page):
    page = signed_in
    job_id = str(uuid.uuid4())
    page.route(
        f"**/api/tasks/shuffles/{job_id}",
        lambda route: route.fulfill(json=_job(job_id, "failed", 5, 2, error="no active assignee left to shuffle to")),
    )
    page.goto(f"/tasks/shuffle?job={job_id}")
    job = page.get_by_test_id("shuffle-job")
    expect(job).to_have_attribute("data-status", "failed")
    expect(job.get_by_test_id("shuffle-job-title")).to_have_text("Shuffle failed")
    expect(job.get_by_test_id("shuffle-result")).to_have_text(
        "The shuffle failed (no active assignee left to shuffle to). 2 tasks were reassigned before it stopped; "
        "you can shuffle again."
    )
    expect(page.get_by_test_id("shuffle-start")).to_have_text("Shuffle again")
    expect(page.get_by_test_id("shuffle-start")).to_be_enabled()

    # A job id nobody knows: said plainly, and the page can start a shuffle.
    unknown = str(uuid.uuid4())
    page.goto(f"/tasks/shuffle?job={unknown}")
    expect(page.get_by_test_id("shuffle-error")).to_have_text(f"Could not follow the shuffle: No shuffle {unknown}.")
    expect(page.get_by_test_id("shuffle-job")).to_have_count(0)
    expect(page.get_by_test_id("shuffle-start")).to_be_enabled()


def test_r_task_1_the_apis_422_and_409_are_shown_on_the_create_form(signed_in: Page):
    page = signed_in
    brackets = "The title cannot contain square brackets: put the Jira id in its own field."
    no_date = "The due date '2026-02-30' is not a date: write it like 2026-12-31, or leave it empty."
    fields = [{"field": "title", "in": "body", "problem": "brackets", "message": brackets},
              {"field": "due_date", "in": "body", "problem": "not_a_date", "message": no_date}]  # fmt: skip
    answers = [
        (422, {"code": "validation_error", "message": f"{brackets} {no_date}", "fields": fields}),
        (409, {"code": "no_assignee", "message": "nobody can take tasks right now: there is no active popug with the "
                                                 "worker role (and neither manager nor admin); nothing was created"}),
    ]  # fmt: skip

    def answer(route: Route) -> None:
        status, error = answers.pop(0)
        route.fulfill(status=status, json={"error": error})

    page.route("**/api/tasks", answer)
    page.get_by_test_id("nav-create-task").click()
    page.get_by_label("Title").fill("Sort the seeds")
    page.get_by_label("Due date (optional)").fill("2026-12-31")
    page.get_by_role("button", name="Create task").click()
    expect(page.get_by_test_id("task-title-error")).to_have_text(brackets)  # each sentence beside its field
    expect(page.get_by_test_id("task-due-date-error")).to_have_text(no_date)
    expect(page.get_by_test_id("task-form-error")).to_have_text("Please correct the marked fields.")
    expect(page.get_by_label("Title")).to_be_focused()

    page.get_by_role("button", name="Create task").click()
    expect(page.get_by_test_id("task-form-error")).to_have_text(
        "Nobody can take tasks right now: there is no active popug with the worker role (and neither manager nor "
        "admin); nothing was created."
    )
    expect(page.get_by_test_id("task-title-error")).to_be_hidden()
    expect(page.get_by_test_id("task-form")).to_be_visible()  # nothing was created: the form stays
    expect(page.get_by_test_id("task-created")).to_have_count(0)


def _as_worker(route: Route) -> None:
    """GET /api/auth/me answered by the real API, with the roles of a plain worker."""
    response = route.fetch()
    route.fulfill(response=response, json={**response.json(), "roles": ["worker"]})


def _task(title: str, status: str = "open", assignee_id: str | None = None) -> dict[str, Any]:
    return {
        "task_id": str(uuid.uuid4()), "title": title, "jira_id": None, "description": "", "due_date": "2020-01-31",
        "status": status, "assignee_id": assignee_id or str(uuid.uuid4()), "created_by": str(uuid.uuid4()),
        "created_at": "2026-11-27T10:00:00Z", "assigned_at": "2026-11-27T10:00:00Z",
        "completed_at": "2026-11-27T11:00:00Z" if status == "done" else None,
    }  # fmt: skip


def test_r_task_4_mark_done_explains_a_task_lost_to_a_shuffle(signed_in: Page):
    page = signed_in
    page.route("**/api/auth/me", _as_worker)
    task = _task("Guard the nest")
    lists: list[str] = []

    def my_list(route: Route) -> None:
        lists.append(route.request.url)
        route.fulfill(json={"items": [task] if len(lists) == 1 else [], "next_cursor": None})

    page.route(re.compile(r"/api/tasks\?"), my_list)
    lost = "only the popug this task is assigned to now can complete it (it may have been shuffled to someone else)"
    page.route(f"**/api/tasks/{task['task_id']}/complete", refuse(409, "not_assignee", lost))
    page.reload()
    expect(page.get_by_test_id("user-roles")).to_have_text("worker")
    expect(page.get_by_test_id("nav-all-tasks")).to_have_count(0)
    expect(page.get_by_test_id("nav-shuffle")).to_have_count(0)
    page.get_by_test_id("nav-my-tasks").click()
    item = page.get_by_test_id("task-item")
    expect(item.get_by_test_id("task-due")).to_contain_text("Overdue")
    item.get_by_role("button", name="Mark done: “Guard the nest”").click()
    expect(page.get_by_test_id("my-tasks-error")).to_have_text(
        "“Guard the nest” could not be marked done. Only the popug this task is assigned to now can complete it "
        "(it may have been shuffled to someone else)."
    )
    expect(item).to_have_count(0)
    expect(page.get_by_test_id("my-tasks-status")).to_have_text("You have no open tasks. Nice work!")
    assert len(lists) == 2 and all("assignee_id=me" in url and "status=open" in url for url in lists), lists

    # A worker typing the managers' addresses is told what they need (the API would answer 403 anyway).
    for path in ("/tasks", "/tasks/shuffle"):
        page.goto(path)
        expect(page.get_by_test_id("forbidden")).to_contain_text("You need one of the roles manager or admin")


def test_r_task_5_all_tasks_loads_more_with_the_cursor(signed_in: Page):
    page = signed_in
    seen: list[dict[str, list[str]]] = []
    stranger = str(uuid.uuid4())  # nobody staff knows: the list still shows the task

    def paged(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        seen.append(query)
        if "cursor" not in query:
            items = [_task(f"Task {n:02d}", "done", stranger) for n in range(50)]
            route.fulfill(json={"items": items, "next_cursor": "page-2"})
        else:
            route.fulfill(json={"items": [_task("The last one", "done", stranger)], "next_cursor": None})

    page.route(re.compile(r"/api/tasks\?"), paged)
    page.goto("/tasks?status=done")
    rows = page.get_by_test_id("task-row")
    expect(rows).to_have_count(50)
    expect(page.get_by_test_id("tasks-status-text")).to_have_text("Showing 50 tasks; more are available.")
    page.get_by_test_id("tasks-more").click()
    expect(rows).to_have_count(51)
    expect(page.get_by_test_id("tasks-more")).to_be_hidden()
    expect(rows.last.get_by_test_id("task-assignee-name")).to_have_text("Unknown popug")
    expect(rows.last.get_by_test_id("task-due")).to_have_count(1)
    expect(rows.last.get_by_test_id("task-due")).not_to_contain_text("Overdue")  # done tasks are never overdue
    assert seen[-1]["cursor"] == ["page-2"] and seen[-1]["limit"] == ["50"] and seen[-1]["status"] == ["done"], seen
