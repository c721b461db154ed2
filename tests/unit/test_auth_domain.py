"""Pure auth rules: the lock-out of R-AUTH-1, effective roles of R-AUTH-6, passwords of R-AUTH-5."""

from auth import passwords
from auth.domain import LOCK_SECONDS, MAX_FAILURES, WINDOW_SECONDS, LoginGuard, effective_roles, normalise_email


def fail(guard: LoginGuard, times: int, start: int, step: int = 1) -> LoginGuard:
    for i in range(times):
        guard = guard.after_failure(start + i * step)
    return guard


def test_r_auth_1_five_failures_within_15_minutes_lock_for_15_minutes():
    guard = fail(LoginGuard(), MAX_FAILURES, start=1000, step=60)
    last = 1000 + (MAX_FAILURES - 1) * 60
    assert guard.locked_for(last) == LOCK_SECONDS
    assert guard.locked_for(last + LOCK_SECONDS - 1) == 1
    assert guard.locked_for(last + LOCK_SECONDS) == 0


def test_r_auth_1_four_failures_do_not_lock():
    guard = fail(LoginGuard(), MAX_FAILURES - 1, start=1000)
    assert guard.locked_for(1010) == 0


def test_r_auth_1_failures_older_than_the_window_do_not_count():
    guard = fail(LoginGuard(), MAX_FAILURES - 1, start=1000)
    guard = guard.after_failure(1000 + WINDOW_SECONDS + 10)
    assert guard.locked_for(1000 + WINDOW_SECONDS + 10) == 0
    assert len(guard.failures) == 1


def test_every_failure_bumps_the_revision_for_optimistic_locking():
    assert fail(LoginGuard(), 3, start=0).revision == 3


def test_r_auth_6_effective_roles_are_own_plus_department_in_a_stable_order():
    assert effective_roles(["admin"], ["worker", "admin"]) == ["worker", "admin"]
    assert effective_roles([], []) == []


def test_emails_compare_case_insensitively():
    assert normalise_email("  Popug@UberPopug.COM ") == "popug@uberpopug.com"


def test_r_auth_5_passwords_are_salted_scrypt_hashes():
    first, second = passwords.hash_password("correct horse 1"), passwords.hash_password("correct horse 1")
    assert first.startswith("scrypt$") and first != second  # salted
    assert "correct horse" not in first
    assert passwords.verify_password("correct horse 1", first)
    assert not passwords.verify_password("correct horse 2", first)


def test_verification_without_a_stored_hash_always_fails():
    assert not passwords.verify_password("anything", None)
    assert not passwords.verify_password("anything", "md5$abc")


def test_generated_passwords_are_long_and_unique():
    generated = {passwords.generate_password() for _ in range(50)}
    assert len(generated) == 50 and all(len(p) >= 16 for p in generated)


def test_weak_passwords_are_explained():
    assert "at least" in passwords.weakness("short1")
    assert passwords.weakness("aaaaaaaaaaaa") is not None
    assert passwords.weakness("parrot-42-seeds") is None
