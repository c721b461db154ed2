"""R-SEC-1 through the real login handler on the emulator: the lock-out holds under a burst. Many sign-ins
at once for one email, each in its own thread, must not get more password checks than the lock allows:
at most five are judged in the window, the rest are answered 429 without a password check."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.integration.conftest import LambdaContext, api_event, bootstrap_admin

BURST = 200
MAX_JUDGED = 5
LOCK_SECONDS = 15 * 60


class PerThreadResolver:
    """Lambda runs one request per sandbox at a time, and powertools' resolver keeps that request's state on
    itself (module-level `app`). Threads standing in for concurrent Lambdas each get their own copy of it;
    the handler, the store and the emulator are the real ones, shared as Lambdas share a table."""

    def __init__(self, app) -> None:
        self._app, self._local = app, threading.local()

    def __getattr__(self, name: str):
        clone = getattr(self._local, "app", None)
        if clone is None:
            clone = self._local.app = copy.copy(self._app)
            clone.context = {}
        return getattr(clone, name)


@pytest.fixture()
def auth(as_function, monkeypatch):
    """The auth API with its template environment, a fresh admin, and a count of password checks."""
    email = f"race-{uuid.uuid4().hex[:6]}@ates.example"
    admin = bootstrap_admin(as_function, email)
    as_function("AuthApiFunction")
    from auth import api

    checks = Counter()
    lock = threading.Lock()
    real_verify = api.verify_password

    def counting_verify(*args, **kwargs):
        with lock:
            checks["verified"] += 1
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(api, "verify_password", counting_verify)
    sign_in(api, f"warm-{uuid.uuid4().hex[:6]}@ates.example", "x")  # routes build their middleware once
    checks.clear()
    monkeypatch.setattr(api, "app", PerThreadResolver(api.app))
    return api, admin, checks


def sign_in(api, email: str, password: str) -> dict:
    event = api_event("POST", "/api/auth/login", body={"email": email, "password": password})
    return api.lambda_handler(event, LambdaContext())


def burst(api, email: str, password: str, size: int = BURST) -> list[dict]:
    """`size` sign-ins released at the same moment (a barrier), each in its own thread."""
    start = threading.Barrier(size)

    def one(_: int) -> dict:
        start.wait()
        return sign_in(api, email, password)

    with ThreadPoolExecutor(max_workers=size) as pool:
        return list(pool.map(one, range(size)))


def test_r_sec_1_a_burst_of_wrong_passwords_gets_at_most_five_password_checks(auth, monkeypatch):
    api, admin, checks = auth
    answers = burst(api, admin["email"], "not-the-password-at-all")

    statuses = Counter(answer["statusCode"] for answer in answers)
    assert checks["verified"] <= MAX_JUDGED, f"{checks['verified']} password checks for {statuses}"
    assert statuses[401] == checks["verified"] and statuses[429] == BURST - statuses[401], statuses
    for answer in answers:
        if answer["statusCode"] == 429:
            assert json.loads(answer["body"])["error"]["code"] == "locked"
            assert 0 < int(answer["multiValueHeaders"]["Retry-After"][0]) <= LOCK_SECONDS

    # The right password is refused, and not even checked, until the lock ends...
    judged = checks["verified"]
    assert sign_in(api, admin["email"], admin["password"])["statusCode"] == 429
    assert checks["verified"] == judged
    # ...and accepted once it has.
    from shared import clock

    later = clock.epoch_seconds() + LOCK_SECONDS + 1
    monkeypatch.setattr(clock, "epoch_seconds", lambda: later)
    assert sign_in(api, admin["email"], admin["password"])["statusCode"] == 200
