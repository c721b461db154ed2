"""Login throttling over HTTP (R-AUTH-1, R-SEC-1): five failed sign-ins for one email within 15 minutes lock it
for 15 minutes (429 with Retry-After), even for the right password and whether the email is known or not, and
however many arrive at once; another email is unaffected; admins see `locked_until`. Throwaway popugs only, so
the cast's sign-ins are untouched."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.popugs import Client
from tests.security.conftest import WORKERS

pytestmark = pytest.mark.slow

ATTEMPTS = 5
LOCK = timedelta(minutes=15)


def login(stack, email: str, password: str) -> requests.Response:
    return requests.post(f"{stack.api_url}/auth/login", json={"email": email, "password": password}, timeout=60)


def fail(stack, email: str, times: int = ATTEMPTS) -> None:
    for attempt in range(times):
        response = login(stack, email, f"wrong-{attempt}")
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "invalid_credentials"


def assert_locked(response: requests.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "locked"
    assert isinstance(response.json()["error"]["message"], str)
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= LOCK.total_seconds()


def accounts(admin: Client) -> dict[str, dict]:
    found, cursor = {}, None
    while True:
        response = admin.call("GET", "/auth/accounts?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.text
        found.update({item["email"]: item for item in response.json()["items"]})
        cursor = response.json()["next_cursor"]
        if not cursor:
            return found


@pytest.fixture(scope="module")
def popugs(throwaway):
    """Each test fails sign-ins of its own popug: the counts must not add up across tests."""
    names = ["same", "almost", "locked", "free", "burst"]
    return dict(zip(names, throwaway("SecSame", "SecAlmost", "SecLocked", "SecFree", "SecBurst"), strict=True))


def test_r_auth_1_wrong_email_and_wrong_password_get_the_same_401(stack, popugs):
    wrong_password = login(stack, popugs["same"].email, "not-the-password")
    wrong_email = login(stack, f"nobody-{uuid.uuid4().hex[:8]}@uberpopug.example", "not-the-password")
    assert wrong_password.status_code == wrong_email.status_code == 401
    assert wrong_password.json() == wrong_email.json()


def test_r_auth_1_four_failures_do_not_lock(stack, popugs):
    almost = popugs["almost"]
    fail(stack, almost.email, ATTEMPTS - 1)
    assert login(stack, almost.email, almost.password).status_code == 200


def test_r_auth_1_five_failures_lock_the_email_even_for_the_right_password(stack, admin, popugs):
    locked, free = popugs["locked"], popugs["free"]
    fail(stack, locked.email)
    before = datetime.now(UTC)
    assert_locked(login(stack, locked.email, locked.password))
    # Not around it by spelling the email another way.
    assert_locked(login(stack, locked.email.upper(), locked.password))
    assert_locked(login(stack, f"  {locked.email} ", locked.password))
    # Another email is unaffected.
    assert login(stack, free.email, free.password).status_code == 200
    # Admins see until when.
    listed = accounts(admin)
    until = datetime.fromisoformat(listed[locked.email]["locked_until"].replace("Z", "+00:00"))
    assert before < until <= before + LOCK + timedelta(seconds=5)
    assert listed[free.email]["locked_until"] is None


def test_r_auth_1_an_unknown_email_locks_too(stack):
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@uberpopug.example"
    fail(stack, unknown)
    assert_locked(login(stack, unknown, "any-password"))


def test_r_auth_1_the_lock_is_per_email_not_per_caller(stack, popugs):
    """Many emails from one client: each gets its own five tries (the lock is not a global denial)."""
    free = popugs["free"]
    for _ in range(3):
        fail(stack, f"nobody-{uuid.uuid4().hex[:8]}@uberpopug.example", ATTEMPTS - 1)
    assert login(stack, free.email, free.password).status_code == 200


BURST = 200


def auth_workers(stack) -> int:
    health = requests.get(f"{stack.url}/_devstack/health", timeout=30).json()
    return health["functions"]["AuthApiFunction"]["workers"]


def warm_auth_workers(stack, wanted: int, rounds: int = 10) -> None:
    """Start `wanted` warm sign-in Lambdas first: workers cold-starting one after the other would otherwise let
    the first one through the burst alone. devstack adds a worker only while all are busy, so each round keeps
    them busy with sign-ins of unknown emails (a password check each, as for a known one), until enough run.
    On a loaded machine a worker's cold start can outlast the function's timeout, and API Gateway answers that
    sign-in with its 5xx, as in AWS: the next round starts another; what the burst needs is the warm workers."""
    for _ in range(rounds):
        if auth_workers(stack) >= wanted:
            return
        emails = [f"warm-{uuid.uuid4().hex[:12]}@example.com" for _ in range(2 * wanted)]
        with ThreadPoolExecutor(max_workers=2 * wanted) as pool:
            answers = list(pool.map(lambda email: login(stack, email, "not-a-password"), emails))
        statuses = [answer.status_code for answer in answers]
        assert 401 in statuses and all(s == 401 or s >= 500 for s in statuses), [a.text for a in answers]
    assert auth_workers(stack) >= wanted, f"{auth_workers(stack)} warm sign-in workers after {rounds} rounds"


def test_r_sec_1_a_burst_of_200_wrong_passwords_over_http_gets_at_most_five_judged(stack, popugs):
    """200 sign-ins released at once on several warm Lambdas: a lock checked after the password let every
    Lambda judge one (and more while failures were still being counted); a ticket taken before the check
    lets five, and the rest are answered 429 without a password check."""
    warm_auth_workers(stack, WORKERS)
    target = popugs["burst"]
    start = threading.Barrier(BURST)

    def guess(attempt: int) -> requests.Response:
        start.wait()
        return login(stack, target.email, f"wrong-guess-{attempt}")

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(guess, range(BURST)))

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {401, 429}, statuses  # never a 5xx, whatever the load
    assert 1 <= statuses[401] <= ATTEMPTS, statuses  # each 401 is one judged password
    for answer in answers:
        if answer.status_code == 429:
            assert_locked(answer)
    # The right password is refused as well until the lock ends.
    assert_locked(login(stack, target.email, target.password))
