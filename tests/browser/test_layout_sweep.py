"""R-UI-3: every page, for every role, at a phone's and a desktop's width (and between), with real-life data.

One seeded stack for the whole sweep: the session's devstack (no stack of its own), into which the module
fixture hires one popug per role with a 55-character name and a 40-character email, in a department with a
long name, and creates tasks with 120-character titles holding long words, so that the lists, the ledger
(fees and a reward) and the statistics have rows like a real office's. Then each role signs in once (one
browser context) and opens every page its roles allow, once; each page is then looked at 390 and 1280 px
wide (all checks, a screenshot) and at 360, 800 and 1920 px (the layout checks):
- the document never scrolls sideways (document.scrollingElement.scrollWidth <= innerWidth);
- every visible link and button in <main> is inside the window, or inside a box that scrolls sideways itself;
- a list's table fits its box (no column scrolled out of sight; narrow boxes show rows as cards), and no cell
  is squeezed so narrow that its text reads as pieces;
- no box hides text that does not fit without a title or an expander to read it by;
- axe-core finds no serious or critical violation (nor landmark-unique / heading-order, moderate ones).
Every page's problems are collected, so one failure lists them all. A screenshot of each page at 390 and
1280 px goes to $ATES_SCREENSHOTS (default test-artifacts/screens/, git-ignored).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.conftest import EXPECT_TIMEOUT_MS
from tests.browser.layout_checks import axe_problems, layout_problems
from tests.browser.test_staff_story import api_call, api_token, invitation_link, sign_in_tab, wait_until
from tests.browser.test_tasks_story import PASSWORD

pytestmark = pytest.mark.browser

SCREENS = Path(os.environ.get("ATES_SCREENSHOTS", Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"))
# The two sizes R-UI-3 names, each checked in full (layout, axe, a screenshot); then the narrowest phone, a
# window just wide enough for the sidebar, and a wide screen, checked for layout: "any width from 360 to 1920".
SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
ALSO_WIDTHS = (360, 800, 1920)
SEED_TIMEOUT_S = 60.0

# A name of 55 characters, an email of 40, a title of 120 with words longer than a phone is wide.
LONG_NAMES = {
    "worker": "Bartholomew Maximilian Featherstonehaugh-Worthington II",
    "manager": "Anastasia Konstantinovna Vorontsova-Dashkova-Romanovska",
    "accountant": "Christopher Alexander Montgomery-Fitzwilliam-Ashcombe J",
    "admin": "Wilhelmina Gwendolyn Castellanos-Rutherford-Blackwood-Q",
}
LONG_DEPARTMENT = "Department of Interplanetary Sunflower Seed Logistics {}"
LONG_TITLES = [
    "Recalibrate the supercalifragilisticexpialidociousseedsorter before the quarterly pneumonoultramicroscopic audit",
    "Reconcile the antidisestablishmentarianistic millet ledgers with the hippopotomonstrosesquippedalian inventory",
    "Document why the floccinaucinihilipilificationally-named conveyor belt keeps dropping sunflower seeds nightly",
]
LONG_DESCRIPTION = (
    "Seeds arrive in crates labelled Pseudopseudohypoparathyroidism-batch-0042; count them twice, compare with "
    "the manifest, and write down every crate whose count differs from the manifest by more than one seed. " * 3
)

# Every signed-in page: (name, path, the roles that may open it; None = anyone signed in). {worker} and
# {task} are the seeded worker's employee id and one of their tasks. /tasks/{task} is the task page (R-UI-4).
PAGES: list[tuple[str, str, set[str] | None]] = [
    ("profile", "/", None),
    ("change-password", "/password", None),
    ("my-tasks", "/tasks/mine", {"worker"}),
    ("my-tasks-done", "/tasks/mine?status=done", {"worker"}),
    ("all-tasks", "/tasks", {"manager", "admin"}),
    ("task", "/tasks/{task}", {"worker", "manager", "admin"}),
    ("create-task", "/tasks/new", None),
    ("shuffle", "/tasks/shuffle", {"manager", "admin"}),
    ("my-balance", "/money", None),
    ("balances", "/money/accounts", {"admin", "accountant"}),
    ("account-ledger", "/money/accounts/{worker}", {"admin", "accountant"}),
    ("money-stats", "/money/stats", {"admin", "accountant"}),
    ("money-close", "/money/close", {"admin"}),
    ("analytics", "/analytics", {"admin"}),
    ("analytics-board", "/analytics/board", {"admin"}),
    ("analytics-sql", "/analytics/sql", {"admin"}),
    ("staff", "/staff", None),
    ("hire", "/staff/hire", {"admin"}),
    ("employee-edit", "/staff/{worker}/edit", {"admin"}),
    ("org-chart", "/org-chart", None),
    ("accounts", "/accounts", {"admin"}),
    ("dead-letters", "/ops/dead-letters", {"admin"}),
]


@dataclass(frozen=True)
class Seeded:
    emails: dict[str, str]  # role -> the email of the popug who holds only that role
    worker_id: str
    task_id: str


def _long_email(role: str) -> str:
    """40 characters: a 22-character local part and a domain of 18."""
    return f"{role}-{uuid.uuid4().hex}"[:22] + "@uberpopug.example"


def _ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json()


def _worker_tasks(devstack: Any, token: str) -> list[dict[str, Any]]:
    return _ok(api_call(devstack, token, "GET", "/tasks?assignee_id=me&limit=100"))["items"]


@pytest.fixture(scope="module")
def seeded(devstack) -> Seeded:
    """Hire a popug per role (long names and emails, a long department), give each only that role, and give
    the worker tasks with long titles: some open, one done, so their ledger has fees and a reward."""
    admin = api_token(devstack, devstack.admin_email, devstack.admin_password)
    suffix = uuid.uuid4().hex[:4]
    department = _ok(
        api_call(devstack, admin, "POST", "/staff/departments", {"name": LONG_DEPARTMENT.format(suffix)}), 201
    )
    emails: dict[str, str] = {}
    ids: dict[str, str] = {}
    for role, name in LONG_NAMES.items():
        email = _long_email(role)
        assert len(email) == 40, email
        hired = _ok(
            api_call(
                devstack, admin, "POST", "/staff/employees",
                {"name": name, "email": email, "position": "Senior sunflower seed quality assurance specialist",
                 "department_id": department["department_id"]},
            ),
            201,
        )  # fmt: skip
        emails[role], ids[role] = email, hired["employee_id"]
    for role, email in emails.items():
        token = invitation_link(devstack, email).split("token=", 1)[1]
        _ok(requests.post(f"{devstack.api_url}/auth/password", json={"token": token, "password": PASSWORD}, timeout=30))
        if role != "worker":
            _ok(api_call(devstack, admin, "PUT", f"/auth/accounts/{ids[role]}/roles", {"roles": [role]}))

    worker = api_token(devstack, emails["worker"], PASSWORD)
    # Tasks go to a popug of the pool at random (earlier tests' popugs may be in it): create until the
    # worker holds three, each with a long title and description.
    deadline = time.monotonic() + SEED_TIMEOUT_S
    mine: list[dict[str, Any]] = []
    n = 0
    while len(mine) < 3 and time.monotonic() < deadline:
        title = f"{suffix} {LONG_TITLES[n % len(LONG_TITLES)]} and files a report at once"[:120]
        body = {"title": title, "jira_id": f"UBERPOP-{4000 + n}", "description": LONG_DESCRIPTION}
        answer = api_call(devstack, admin, "POST", "/tasks", body)
        assert answer.status_code in (201, 409), answer.text  # 409: the worker is not in the pool yet
        n += 1
        mine = _worker_tasks(devstack, worker)
        if answer.status_code == 409:
            time.sleep(0.5)
    assert len(mine) >= 3, f"the worker got {len(mine)} of {n} tasks"
    _ok(api_call(devstack, worker, "POST", f"/tasks/{mine[0]['task_id']}/complete"))

    def ledger_has_fees_and_a_reward() -> bool:
        rows = _ok(api_call(devstack, worker, "GET", "/accounting/me/transactions?limit=100"))["items"]
        return {"fee", "reward"} <= {row["kind"] for row in rows}

    wait_until(ledger_has_fees_and_a_reward, SEED_TIMEOUT_S, "the worker's fees and reward in their ledger")
    return Seeded(emails=emails, worker_id=ids["worker"], task_id=mine[1]["task_id"])


def pages_for(role: str, seeded: Seeded) -> list[tuple[str, str]]:
    return [
        (name, path.format(worker=seeded.worker_id, task=seeded.task_id))
        for name, path, roles in PAGES
        if roles is None or role in roles
    ]


def open_page(tab: Page, path: str) -> None:
    """Open the page and wait until it has drawn what it loads (no request for 500 ms, no loading note)."""
    tab.goto(path)
    expect(tab.get_by_test_id("page-title").first).to_be_visible()
    tab.wait_for_load_state("networkidle")
    expect(tab.locator("main .loading:visible")).to_have_count(0)


@pytest.mark.timeout(600)  # the admin's 22 pages at five widths, on a busy 2-core machine
@pytest.mark.parametrize("role", list(LONG_NAMES))
def test_r_ui_3_every_page_fits_every_width_and_passes_axe(browser, devstack, seeded: Seeded, role: str) -> None:
    """Each page is opened once and looked at in every width (resizing re-lays it out, as turning a phone does)."""
    SCREENS.mkdir(parents=True, exist_ok=True)
    # bypass_csp: the page allows only its own scripts, and the test injects axe-core.
    context = browser.new_context(base_url=devstack.url, viewport=SIZES["phone"], bypass_csp=True)
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    problems: list[str] = []
    try:
        tab.goto("/")
        sign_in_tab(tab, seeded.emails[role], PASSWORD)
        expect(tab.get_by_test_id("user-email")).to_have_text(seeded.emails[role])
        for name, path in pages_for(role, seeded):
            tab.set_viewport_size(SIZES["phone"])
            open_page(tab, path)
            for size, viewport in SIZES.items():
                tab.set_viewport_size(viewport)
                # The page's record, not a check: a full-page capture once took over the 20 s default on a
                # loaded 2-core CI machine (Chromium's compositor starved), so it gets a minute.
                tab.screenshot(path=str(SCREENS / f"{role}-{size}-{name}.png"), full_page=True, timeout=60_000)
                found = layout_problems(tab) + axe_problems(tab)
                problems += [f"{path} at {viewport['width']}px: {problem}" for problem in found]
            for width in ALSO_WIDTHS:
                tab.set_viewport_size({"width": width, "height": 800})
                problems += [f"{path} at {width}px: {problem}" for problem in layout_problems(tab)]
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
    assert not problems, f"what {role} sees:\n" + "\n".join(problems)
