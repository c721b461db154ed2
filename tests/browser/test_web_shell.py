"""The web shell in a real browser against devstack: sign-in, the role-aware layout, sessions, errors.

R-UI-1: one front that shows each person what their roles allow. R-UI-2: API errors are readable.
R-AUTH-1: wrong email and wrong password get one answer; five failures lock the email (429).
Where a case needs a user devstack cannot make yet (a non-admin) or a shape the API only gives in
rare states (a second page of accounts), the test rewrites that one API answer in the browser and
keeps everything else real.
"""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

pytestmark = pytest.mark.browser

SESSION_KEY = "ates.session"


def stored_session(page: Page) -> str | None:
    return page.evaluate("key => sessionStorage.getItem(key)", SESSION_KEY)


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def expect_sign_in_form(page: Page) -> None:
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    expect(page.get_by_test_id("app-header")).to_have_count(0)


def test_r_ui_1_bootstrap_admin_signs_in_to_the_layout_with_email_roles_and_accounts_nav(
    page: Page, devstack, sign_in, artifacts
):
    sign_in(devstack.admin_email, devstack.admin_password)

    header = page.get_by_test_id("app-header")
    expect(header).to_be_visible()
    expect(header.get_by_test_id("brand")).to_have_text("aTES")
    expect(page.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)
    expect(page.get_by_test_id("user-roles")).to_contain_text("admin")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_test_id("nav-profile")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_test_id("nav-accounts")).to_have_text("Accounts")

    # Home is the profile, from GET /api/auth/me.
    expect(page.get_by_test_id("profile-email")).to_have_text(devstack.admin_email, ignore_case=True)
    expect(page.get_by_test_id("profile-roles")).to_contain_text("admin")
    expect(page).to_have_title(re.compile(r"aTES"))
    assert path_of(page) == "/"
    assert stored_session(page), "the token is kept in sessionStorage"

    page.screenshot(path=str(artifacts / "signed-in-profile.png"), full_page=True)


def test_r_auth_1_accounts_page_lists_the_admin(signed_in: Page, devstack, artifacts):
    page = signed_in
    with page.expect_request(re.compile(r"/api/auth/accounts\?")) as listed:
        page.get_by_test_id("nav-accounts").click()
    assert parse_qs(urlsplit(listed.value.url).query).get("limit") == ["50"]
    assert listed.value.headers.get("authorization", "").startswith("Bearer ")

    expect(page).to_have_url(re.compile(r"/accounts$"))
    expect(page.get_by_test_id("page-title")).to_have_text("Accounts")
    expect(page.get_by_test_id("nav-accounts")).to_have_attribute("aria-current", "page")
    admin_row = page.get_by_test_id("account-row").filter(
        has=page.get_by_test_id("account-email").get_by_text(devstack.admin_email, exact=False)
    )
    expect(admin_row).to_have_count(1)
    expect(admin_row).to_contain_text("admin")
    expect(admin_row).to_contain_text("Active")
    page.screenshot(path=str(artifacts / "signed-in-accounts.png"), full_page=True)


def test_r_auth_1_wrong_password_shows_a_readable_error_and_stays_on_sign_in(page: Page, devstack, sign_in):
    sign_in(devstack.admin_email, f"not-the-password-{uuid.uuid4().hex[:6]}")

    error = page.get_by_test_id("signin-error")
    expect(error).to_be_visible()
    expect(error).to_have_attribute("role", "alert")
    expect(error).to_have_text(re.compile(r"^Wrong email or password\.?$", re.IGNORECASE))
    expect_sign_in_form(page)
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    assert path_of(page) == "/"
    assert stored_session(page) is None


def test_r_auth_1_a_locked_email_shows_the_lock_message(page: Page, sign_in):
    # An unknown email (one answer for known and unknown, R-AUTH-1), so the admin is never locked out.
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    sign_in(email, "wrong-1")
    error = page.get_by_test_id("signin-error")
    for attempt in range(2, 6):
        expect(error).to_contain_text("Wrong email or password")
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        with page.expect_response("**/api/auth/login") as answered:
            page.get_by_role("button", name="Sign in").click()
        expect(error).to_be_visible()
    assert answered.value.status in (401, 429)

    page.get_by_label("Password").fill("wrong-again")
    with page.expect_response("**/api/auth/login") as answered:
        page.get_by_role("button", name="Sign in").click()
    assert answered.value.status == 429
    assert json.loads(answered.value.text())["error"]["code"] == "locked"
    expect(error).to_contain_text(re.compile(r"too many failed sign-ins", re.IGNORECASE))
    expect(error).to_contain_text(re.compile(r"try again", re.IGNORECASE))
    expect_sign_in_form(page)


def test_sign_in_shows_a_busy_state_until_the_api_answers(page: Page, devstack):
    held: list[Route] = []
    page.route("**/api/auth/login", lambda route: held.append(route))
    page.goto("/")
    page.get_by_label("Email").fill(devstack.admin_email)
    page.get_by_label("Password").fill(devstack.admin_password)
    page.get_by_role("button", name="Sign in").click()

    busy = page.get_by_test_id("signin-submit")
    expect(busy).to_have_text("Signing in…")
    expect(busy).to_be_disabled()
    expect(page.get_by_test_id("signin-form")).to_have_attribute("aria-busy", "true")
    expect(page.get_by_label("Email")).to_be_disabled()

    assert len(held) == 1
    held[0].continue_()
    expect(page.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)


def test_sign_out_returns_to_sign_in_and_the_protected_page_needs_sign_in_again(signed_in: Page, devstack, sign_in):
    page = signed_in
    page.get_by_test_id("nav-accounts").click()
    expect(page.get_by_test_id("account-row").first).to_be_visible()

    page.get_by_test_id("sign-out").click()
    expect_sign_in_form(page)
    expect(page.get_by_test_id("signin-notice")).to_contain_text("signed out")
    assert path_of(page) == "/"
    assert stored_session(page) is None

    # Back to the protected URL: sign-in again, and afterwards the page asked for.
    page.go_back()
    expect_sign_in_form(page)
    page.goto("/accounts")
    expect_sign_in_form(page)
    expect(page).to_have_url(re.compile(r"/\?next=%2Faccounts$"))
    expect(page.get_by_test_id("account-row")).to_have_count(0)

    page.get_by_label("Email").fill(devstack.admin_email)
    page.get_by_label("Password").fill(devstack.admin_password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/accounts$"))
    expect(page.get_by_test_id("account-row").first).to_be_visible()


def test_a_reload_keeps_the_session(signed_in: Page, devstack):
    page = signed_in
    page.get_by_test_id("nav-accounts").click()
    expect(page.get_by_test_id("account-row").first).to_be_visible()

    page.reload()
    expect(page).to_have_url(re.compile(r"/accounts$"))
    expect(page.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)
    expect(page.get_by_test_id("account-row").first).to_be_visible()
    expect(page.get_by_test_id("signin-form")).to_have_count(0)

    # A deep link opened directly in the same tab works too (the server answers index.html).
    page.goto("/")
    expect(page.get_by_test_id("profile-email")).to_have_text(devstack.admin_email, ignore_case=True)


def test_sign_in_works_with_the_keyboard_alone(page: Page, devstack):
    page.goto("/")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(devstack.admin_email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(devstack.admin_password)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-email")).to_have_text(devstack.admin_email, ignore_case=True)


def test_an_expiring_session_returns_to_sign_in_by_itself(signed_in: Page):
    page = signed_in
    # The app treats a token as over 10 s before its expiry: leave it about 2 s.
    page.evaluate(
        """key => {
            const stored = JSON.parse(sessionStorage.getItem(key));
            stored.expiresAt = Date.now() + 12000;
            sessionStorage.setItem(key, JSON.stringify(stored));
        }""",
        SESSION_KEY,
    )
    page.reload()
    expect(page.get_by_test_id("app-header")).to_be_visible()
    expect(page.get_by_test_id("signin-notice")).to_contain_text("session expired")
    expect_sign_in_form(page)
    assert stored_session(page) is None


def test_a_rejected_token_returns_to_sign_in_with_a_notice(signed_in: Page):
    page = signed_in
    # The token is no longer accepted (e.g. the account was deactivated): the API answers 401.
    page.evaluate(
        """key => {
            const stored = JSON.parse(sessionStorage.getItem(key));
            stored.token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.bm90LWEtc2lnbmF0dXJl";
            sessionStorage.setItem(key, JSON.stringify(stored));
        }""",
        SESSION_KEY,
    )
    page.goto("/accounts")
    expect_sign_in_form(page)
    expect(page.get_by_test_id("signin-notice")).to_contain_text("session has ended")
    expect(page).to_have_url(re.compile(r"/\?next=%2Faccounts$"))
    assert stored_session(page) is None


def _as_worker(route: Route) -> None:
    """GET /api/auth/me answered by the real API, with the roles of a plain worker."""
    response = route.fetch()
    me = response.json()
    route.fulfill(response=response, json={**me, "roles": ["worker"]})


def test_r_ui_1_a_non_admin_typing_the_accounts_url_is_told_they_need_the_admin_role(signed_in: Page):
    page = signed_in
    page.route("**/api/auth/me", _as_worker)
    page.reload()
    expect(page.get_by_test_id("user-roles")).to_have_text("worker")
    expect(page.get_by_test_id("nav-accounts")).to_have_count(0)

    page.goto("/accounts")
    forbidden = page.get_by_test_id("forbidden")
    expect(forbidden).to_be_visible()
    expect(forbidden).to_contain_text("You need the admin role")
    expect(page.get_by_test_id("account-row")).to_have_count(0)


def test_r_ui_2_a_403_from_the_api_is_shown_as_the_admin_role_message(signed_in: Page):
    page = signed_in
    page.route(
        "**/api/auth/accounts*",
        lambda route: route.fulfill(
            status=403, json={"error": {"code": "forbidden", "message": "this needs one of the roles: admin"}}
        ),
    )
    page.get_by_test_id("nav-accounts").click()
    forbidden = page.get_by_test_id("forbidden")
    expect(forbidden).to_be_visible()
    expect(forbidden).to_contain_text("You need the admin role")


def test_r_ui_2_a_server_failure_is_readable_and_can_be_retried(signed_in: Page, devstack):
    page = signed_in
    failures = {"left": 1}

    def fail_once(route: Route) -> None:
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=500, json={"error": {"code": "internal_error", "message": "something went wrong"}})
        else:
            route.continue_()

    page.route("**/api/auth/accounts*", fail_once)
    page.get_by_test_id("nav-accounts").click()
    expect(page.get_by_test_id("load-error")).to_contain_text("Something went wrong.")
    page.get_by_role("button", name="Try again").click()
    expect(page.get_by_test_id("account-row").first).to_be_visible()


def test_accounts_more_button_loads_the_next_page_with_the_cursor(signed_in: Page):
    page = signed_in
    seen: list[dict[str, list[str]]] = []

    def paged(route: Route) -> None:
        query = parse_qs(urlsplit(route.request.url).query)
        seen.append(query)
        if "cursor" not in query:
            items = [_account(n) for n in range(50)]
            route.fulfill(json={"items": items, "next_cursor": "page-2"})
        else:
            route.fulfill(json={"items": [_account(50, locked=True)], "next_cursor": None})

    page.route("**/api/auth/accounts*", paged)
    page.get_by_test_id("nav-accounts").click()
    rows = page.get_by_test_id("account-row")
    expect(rows).to_have_count(50)
    more = page.get_by_test_id("accounts-more")
    expect(more).to_be_visible()

    more.click()
    expect(rows).to_have_count(51)
    expect(more).to_be_hidden()
    expect(rows.last).to_contain_text("Locked until")
    expect(page.get_by_test_id("accounts-status")).to_contain_text("Showing 51 accounts")
    assert seen[-1]["cursor"] == ["page-2"] and seen[-1]["limit"] == ["50"]


def test_unknown_path_shows_not_found_inside_the_layout(signed_in: Page):
    page = signed_in
    page.goto("/no-such-page")
    expect(page.get_by_test_id("not-found")).to_be_visible()
    expect(page.get_by_test_id("app-header")).to_be_visible()


ADMIN_SECTIONS = ["Work", "Money", "Insights", "People", "Administration"]


def test_r_ui_3_on_a_phone_the_navigation_is_a_menu_with_the_desktop_sections(browser, devstack, artifacts):
    context = browser.new_context(base_url=devstack.url, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto("/")
        page.get_by_label("Email").fill(devstack.admin_email)
        page.get_by_label("Password").fill(devstack.admin_password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_test_id("sign-out")).to_be_in_viewport()
        page.wait_for_load_state("networkidle")  # the profile refreshes the user, and so the navigation

        # Closed, the menu is one button; the links are neither on screen nor read out.
        menu = page.get_by_role("button", name="Menu")
        nav = page.get_by_role("navigation", name="Main")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(menu).to_have_attribute("aria-controls", "site-nav")
        expect(nav).to_be_hidden()

        # Open: the desktop's sections, every link on screen, and the page still never scrolls sideways.
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("heading")).to_have_text(ADMIN_SECTIONS)
        links = nav.get_by_role("link")
        expect(links.first).to_have_text("My profile")
        on_the_phone = links.all_inner_texts()
        assert {"All tasks", "Balances", "Dashboard", "Staff", "Accounts", "Dead letters"} <= set(on_the_phone)
        for link in links.all():
            expect(link).to_be_in_viewport()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px wide)"
        page.screenshot(path=str(artifacts / "signed-in-mobile-menu.png"), full_page=True)

        # Escape closes it and gives the focus back to the button; the keyboard opens it and Tab goes in.
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        expect(menu).to_be_focused()
        expect(menu).to_have_attribute("aria-expanded", "false")
        page.keyboard.press("Enter")
        expect(nav).to_be_visible()
        page.keyboard.press("Tab")
        expect(nav.get_by_test_id("nav-profile")).to_be_focused()

        # Following a link opens the page and closes the menu; opened again, it marks where you are.
        nav.get_by_test_id("nav-accounts").click()
        expect(page.get_by_test_id("page-title")).to_have_text("Accounts")
        expect(nav).to_be_hidden()
        menu.click()
        expect(page.get_by_test_id("nav-accounts")).to_have_attribute("aria-current", "page")

        # On a desktop the same navigation is the sidebar, always shown, and there is no menu button.
        page.set_viewport_size({"width": 1280, "height": 800})
        expect(nav.get_by_role("heading")).to_have_text(ADMIN_SECTIONS)
        expect(links).to_have_text(on_the_phone)
        expect(menu).to_be_hidden()
        page.keyboard.press("Escape")
        expect(nav).to_be_visible()
    finally:
        context.close()


def _account(n: int, *, locked: bool = False) -> dict[str, object]:
    return {
        "account_id": str(uuid.UUID(int=n + 1)),
        "email": f"popug{n:02d}@example.com",
        "name": f"Popug {n:02d}",
        "roles": ["worker"],
        "active": True,
        "locked_until": "2999-01-01T00:00:00Z" if locked else None,
    }
