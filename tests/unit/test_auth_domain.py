"""Pure auth rules: the lock-out of R-AUTH-1, effective roles of R-AUTH-6, passwords of R-AUTH-5."""

from auth import passwords
from auth.domain import LOCK_SECONDS, MAX_FAILURES, WINDOW_SECONDS, LoginGuard, effective_roles, normalise_email


def held(*times: int) -> LoginGuard:
    return LoginGuard(tickets=frozenset(f"{t}:{i}" for i, t in enumerate(times)))


def test_r_sec_1_a_ticket_can_be_had_while_fewer_than_five_are_held_in_the_window():
    assert held().wait(1000) == 0
    assert held(*[1000] * (MAX_FAILURES - 1)).wait(1000) == 0
    # Five held (failures, or attempts being judged right now): the next waits for the oldest to age out.
    assert held(1000, 1060, 1120, 1180, 1240).wait(1300) == 1000 + WINDOW_SECONDS - 1300


def test_r_sec_1_tickets_older_than_the_window_do_not_count():
    guard = held(1000, 1000, 1000, 1000, 1000 + WINDOW_SECONDS)
    now = 1000 + WINDOW_SECONDS + 1
    assert guard.wait(now) == 0
    assert len(guard.live(now)) == 1 and len(guard.stale(now)) == MAX_FAILURES - 1


def test_r_auth_1_the_fifth_failure_locks_for_15_minutes():
    guard = held(1000, 1060, 1120, 1180)
    assert guard.locks_after_failure(1180) is None  # four do not lock
    fifth = held(1000, 1060, 1120, 1180, 1240)
    assert fifth.locks_after_failure(1240) == sorted(fifth.tickets, key=lambda t: int(t.split(":")[0]))
    locked = LoginGuard(tickets=fifth.tickets, locked_until=1240 + LOCK_SECONDS)
    assert locked.wait(1240) == LOCK_SECONDS
    assert locked.wait(1240 + LOCK_SECONDS - 1) == 1
    assert locked.wait(1240 + LOCK_SECONDS) == 0  # the lock is over and every ticket has aged out


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
