"""Pure auth rules: the lock-out of R-AUTH-1, effective roles of R-AUTH-6, passwords of R-AUTH-5."""

import pytest

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


CHEAP = 10  # log2 N for tests of the logic, not of the cost


def test_r_auth_5_passwords_are_salted_scrypt_hashes():
    first, second = passwords.hash_password("correct horse 1", CHEAP), passwords.hash_password("correct horse 1", CHEAP)
    assert first.startswith("scrypt$") and first != second  # salted
    assert "correct horse" not in first
    assert passwords.verify_password("correct horse 1", first, CHEAP)
    assert not passwords.verify_password("correct horse 2", first, CHEAP)


def test_r_sec_2_new_hashes_use_owasp_scrypt_parameters():
    stored = passwords.hash_password("sunflower-seeds-42")  # the default cost: N=2^17, r=8, p=1 (128 MiB)
    assert stored.startswith("scrypt$131072$8$1$")
    assert passwords.verify_password("sunflower-seeds-42", stored)
    assert not passwords.needs_rehash(stored)


def test_r_sec_2_a_hash_made_at_a_lower_cost_is_verified_and_marked_for_rehash():
    older = passwords.hash_password("sunflower-seeds-42", 14)  # what R-AUTH-5 stored before
    assert older.startswith("scrypt$16384$8$1$")
    assert passwords.verify_password("sunflower-seeds-42", older, 17)
    assert passwords.needs_rehash(older, 17)
    assert not passwords.needs_rehash(older, 14)
    assert not passwords.needs_rehash(None) and not passwords.needs_rehash("md5$abc")


def test_verification_without_a_stored_hash_always_fails():
    assert not passwords.verify_password("anything", None, CHEAP)
    assert not passwords.verify_password("anything", "md5$abc", CHEAP)
    assert not passwords.verify_password("anything", "scrypt$16384$8$1$!!$!!", CHEAP)
    assert not passwords.verify_password("anything", f"scrypt${2**30}$8$1$AAAA$AAAA", CHEAP)  # not computed


def test_generated_passwords_are_long_and_unique():
    generated = {passwords.generate_password() for _ in range(50)}
    assert len(generated) == 50 and all(len(p) >= 16 for p in generated)


def test_r_sec_2_passwords_have_12_to_128_characters_and_no_composition_rules():
    assert "at least 12 characters" in passwords.weakness("seed sorter")  # 11
    assert passwords.weakness("seed sorters") is None  # 12, lower case letters and a space: fine
    assert passwords.weakness("millet and sunflower seeds for every popug in the flock " * 2) is None
    assert "at most 128 characters" in passwords.weakness("x" * 129)
    assert passwords.weakness("семечки подсолнуха") is None  # any script


@pytest.mark.parametrize(
    "common", ["password1234", "qwertyuiop12", "iloveyou2024", "1q2w3e4r5t6y", "Password123!", "letmein12345"]
)
def test_r_sec_2_common_and_breached_passwords_are_refused(common):
    assert "one of the most common passwords" in passwords.weakness(common)


@pytest.mark.parametrize(
    ("guessable", "why"),
    [
        ("aaaaaaaaaaaaaaaa", "repeats"),
        ("abcdefghijklmnop", "sequence"),
        ("uberpopug2024!", "your name, your email or the company's name"),
        ("keshapopugaeva1", "your name, your email or the company's name"),
    ],
)
def test_r_sec_2_guessable_passwords_are_refused_with_the_reason(guessable, why):
    problem = passwords.weakness(guessable, ("Kesha Popugaeva", "kesha.popugaeva@uberpopug.example"))
    assert problem and why in problem


def test_r_sec_3_a_new_password_ends_the_sessions_of_earlier_ones():
    from auth.domain import Account

    account = Account("a", "a@b.example", "A", ("worker",), ("worker",), True, 1, password_hash="old")
    token_epoch = account.session_epoch
    changed = account.with_new_password("new")
    assert changed.password_hash == "new" and changed.version == account.version  # not a role change
    assert changed.ends_session(token_epoch) and not changed.ends_session(changed.session_epoch)
    assert not account.ends_session(token_epoch)
