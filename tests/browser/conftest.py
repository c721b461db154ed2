"""Browser tests: Playwright (sync API) driving Debian's Chromium against a running devstack.

Tests marked `browser` are skipped, with the reason, when Chromium or Playwright is missing, unless
ATES_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure instead. Each test gets a fresh
browser context (its own sessionStorage), so no test inherits another's session.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("ATES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("ATES_BROWSER_ARTIFACTS", "/tmp/ates-browser"))
# The first call to each function starts its worker (a real cold start): allow for it.
EXPECT_TIMEOUT_MS = 20_000


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (`make test` installs .venv from requirements-dev.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        return f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None:
        return
    reason = _missing_browser()
    if reason is None:
        return
    if os.environ.get("ATES_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ATES_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (outside the repo): /tmp/ates-browser unless ATES_BROWSER_ARTIFACTS says."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, devstack: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh tab on devstack's origin. Uncaught page errors fail the test; a failure leaves a screenshot."""
    context = browser.new_context(base_url=devstack.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
        assert not errors, f"uncaught errors in the page: {errors}"
    finally:
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            _failure_screenshot(tab, request.node.name)
        context.close()


@pytest.fixture
def second_tab(browser: Any, devstack: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open more tabs, each in its own fresh context (its own sessionStorage: another person):
    `second_tab()` at desktop size, `second_tab(width=390, height=844)` for a phone. Uncaught page errors
    fail the test; a failure leaves a screenshot of every tab opened."""
    opened: list[tuple[Any, list[str]]] = []

    def open_tab(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(base_url=devstack.url, viewport={"width": width, "height": height})
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        opened.append((context, errors))
        return tab

    try:
        yield open_tab
        for _, errors in opened:
            assert not errors, f"uncaught errors in the second tab: {errors}"
    finally:
        failed = getattr(request.node, "report_call", None)
        for number, (context, _) in enumerate(opened, start=2):
            if failed is not None and failed.failed:
                _failure_screenshot(context.pages[0] if context.pages else None, f"{request.node.name}-tab{number}")
            context.close()


def _failure_screenshot(tab: Any, name: str) -> None:
    if tab is None:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^\w.-]+", "_", name)
    try:
        tab.screenshot(path=str(ARTIFACTS / f"FAILED-{safe}.png"), full_page=True)
    except Exception as error:  # a crashed page must not hide the test's own failure
        print(f"no failure screenshot: {error}")


def _sign_in(page: Any, email: str, password: str, path: str = "/") -> None:
    page.goto(path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def sign_in(page: Any) -> Any:
    """sign_in(email, password, path="/"): open `path` and submit the form through its labels (which also
    proves the labels are wired to the inputs)."""
    return lambda email, password, path="/": _sign_in(page, email, password, path)


@pytest.fixture
def signed_in(page: Any, devstack: Any, sign_in: Any) -> Any:
    """A tab signed in as the bootstrap admin, showing the signed-in layout."""
    from playwright.sync_api import expect

    sign_in(devstack.admin_email, devstack.admin_password)
    expect(page.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)
    return page
