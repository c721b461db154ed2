"""R-SEC-3 over HTTP through devstack: setting, changing or resetting a password ends every session opened
before it (tokens issued earlier are refused from the next request on), and a new invitation voids the
earlier links. Throwaway popugs on the security package's stack."""

from __future__ import annotations

import re

import pytest
import requests

from tests.e2e.popugs import PASSWORD, Client, eventually, hire

pytestmark = pytest.mark.slow

NEW_PASSWORD = "millet husks at dawn"
LINK = re.compile(r"https?://\S+/set-password\?token=([\w-]+)")


def me(stack, token: str) -> int:
    """What the next request with this token gets: 200 while its session lasts, 401 once it is over."""
    response = requests.get(f"{stack.api_url}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=60)
    return response.status_code


def sign_in(stack, email: str, password: str) -> str:
    response = requests.post(f"{stack.api_url}/auth/login", json={"email": email, "password": password}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def links_to(stack, email: str, count: int) -> list[str]:
    """The invitation tokens sent to `email`, newest first, once `count` of them have arrived."""

    def found() -> list[str] | None:
        mails = requests.get(f"{stack.url}/_devstack/mailbox.json", timeout=30).json()["items"]
        tokens = [m.group(1) for mail in mails if email in mail["to"] if (m := LINK.search(mail["body"]))]
        return tokens if len(tokens) >= count else None

    return eventually(found, f"{count} invitation(s) to {email} in the mailbox")


def set_password(stack, token: str, password: str) -> requests.Response:
    return requests.post(f"{stack.api_url}/auth/password", json={"token": token, "password": password}, timeout=60)


def test_r_sec_3_changing_the_password_ends_every_earlier_session(stack, throwaway):
    (popug,) = throwaway("SecChange")
    laptop, phone = popug.token, sign_in(stack, popug.email, popug.password)
    assert me(stack, laptop) == me(stack, phone) == 200

    changed = Client(stack.api_url, laptop).call(
        "POST", "/auth/password/change", {"current_password": popug.password, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert me(stack, laptop) == 401 and me(stack, phone) == 401  # refused from the next request on
    assert me(stack, changed.json()["access_token"]) == 200  # the session the change opened goes on
    assert me(stack, sign_in(stack, popug.email, NEW_PASSWORD)) == 200


def test_r_sec_3_a_new_invitation_voids_the_earlier_link(stack, admin):
    employee_id, email = hire(admin, "SecRelink")
    (first,) = links_to(stack, email, 1)
    assert admin.call("POST", f"/auth/accounts/{employee_id}/invitation").status_code == 202
    newest, older = links_to(stack, email, 2)
    assert older == first

    voided = set_password(stack, first, PASSWORD)
    assert voided.status_code == 410 and voided.json()["error"]["code"] == "invitation_gone"
    assert set_password(stack, newest, PASSWORD).status_code == 200
    assert me(stack, sign_in(stack, email, PASSWORD)) == 200


def test_r_sec_3_a_reset_through_a_new_invitation_ends_the_sessions_of_the_old_password(stack, admin, throwaway):
    (popug,) = throwaway("SecReset")
    old_session = popug.token
    assert admin.call("POST", f"/auth/accounts/{popug.employee_id}/invitation").status_code == 202
    newest = links_to(stack, popug.email, 2)[0]
    assert set_password(stack, newest, NEW_PASSWORD).status_code == 200
    assert me(stack, old_session) == 401
    assert me(stack, sign_in(stack, popug.email, NEW_PASSWORD)) == 200
