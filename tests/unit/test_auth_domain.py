"""Pure auth rules: the lock-out of R-AUTH-1, effective roles of R-AUTH-6, passwords of R-AUTH-5."""

import base64
import hashlib
import secrets
import time

import pytest
from argon2 import PasswordHasher, Type, extract_parameters

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


def scrypt_hash(password: str, log2_n: int = 10) -> str:
    """A hash as aTES stored them before argon2id (`scrypt$N$r$p$salt$digest`, r=8, p=1), at a small N."""
    salt, n = secrets.token_bytes(16), 2**log2_n
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=8, p=1, dklen=32)
    return f"scrypt${n}$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def argon2id_hash(password: str, **parameters: int) -> str:
    """An argon2id hash at other parameters than today's (a cheaper past setting, or a hostile one)."""
    return PasswordHasher(**{"time_cost": 2, "memory_cost": 19456, "parallelism": 1, **parameters}).hash(password)


def test_r_sec_2_new_hashes_are_argon2id_at_owasp_parameters():
    stored = passwords.hash_password("sunflower-seeds-42")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # OWASP: m=19 MiB, t=2, p=1
    found = extract_parameters(stored)
    assert (found.type, found.salt_len, found.hash_len) == (Type.ID, 16, 32)
    assert passwords.verify_password("sunflower-seeds-42", stored)
    assert not passwords.needs_rehash(stored)


def test_r_auth_5_passwords_are_salted_and_a_wrong_one_fails():
    first, second = passwords.hash_password("correct horse 1"), passwords.hash_password("correct horse 1")
    assert first != second  # salted
    assert "correct horse" not in first
    assert passwords.verify_password("correct horse 1", first)
    assert not passwords.verify_password("correct horse 2", first)
    assert not passwords.verify_password("", first)


def test_r_sec_2_a_scrypt_hash_still_verifies_and_is_marked_for_rehash():
    older = scrypt_hash("sunflower-seeds-42")  # what R-AUTH-5 stored before argon2id
    assert passwords.verify_password("sunflower-seeds-42", older)
    assert not passwords.verify_password("sunflower-seeds-43", older)
    assert passwords.needs_rehash(older)
    assert passwords.needs_rehash(scrypt_hash("sunflower-seeds-42", 14))  # any scrypt hash, whatever its cost


def test_r_sec_2_an_argon2id_hash_below_todays_parameters_is_verified_and_marked_for_rehash():
    for cheaper in ({"memory_cost": 8192}, {"time_cost": 1}, {"hash_len": 16}, {"salt_len": 8}):
        older = argon2id_hash("sunflower-seeds-42", **cheaper)
        assert passwords.verify_password("sunflower-seeds-42", older), cheaper
        assert passwords.needs_rehash(older), cheaper
    assert not passwords.needs_rehash(None) and not passwords.needs_rehash("md5$abc")


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "md5$abc",
        "scrypt$16384$8$1$!!$!!",
        "scrypt$16384$8$1",
        "$argon2id$v=19$m=19456,t=2,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
        "$argon2id$v=19$m=lots,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # well formed, matches nothing
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA\u00e9",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # argon2i: not ours
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",  # bcrypt: foreign
        "\x00" * 40,
    ],
)
def test_a_missing_damaged_or_foreign_hash_never_matches_and_never_raises(stored):
    assert not passwords.verify_password("anything", stored)
    assert not passwords.verify_password("", stored)
    passwords.needs_rehash(stored)  # never raises either


@pytest.fixture()
def computed(monkeypatch) -> list[str]:
    """The hashes verify_password really computes, in order (the dummy's included)."""
    seen: list[str] = []
    argon2_matches, scrypt_matches = passwords._argon2_matches, passwords._scrypt_matches
    monkeypatch.setattr(
        passwords, "_argon2_matches", lambda pw, stored: seen.append(stored) or argon2_matches(pw, stored)
    )
    monkeypatch.setattr(
        passwords, "_scrypt_matches", lambda pw, stored, *nrp: seen.append(stored) or scrypt_matches(pw, stored, *nrp)
    )
    return seen


def test_a_hash_asking_for_absurd_parameters_is_refused_without_computing(computed):
    absurd = [
        f"scrypt${2**30}$8$1$AAAA$AAAA",
        "scrypt$16384$1024$1$AAAA$AAAA",
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # 4 GiB
        f"$argon2id$v=19$m={4 * 19456 + 1},t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",  # over 4x ours
        "$argon2id$v=19$m=19456,t=1000000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=2,p=255$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
    ]
    for stored in absurd:
        started = time.perf_counter()
        assert not passwords.verify_password("anything", stored), stored
        assert time.perf_counter() - started < 2, stored  # the dummy check alone: ~45 ms
        assert not passwords.needs_rehash(stored), stored
    assert not set(computed) & set(absurd)  # none of them computed...
    assert len(computed) == len(absurd) and len(set(computed)) == 1  # ...but the same dummy check instead


def test_r_sec_2_with_no_usable_hash_the_same_work_is_done_as_for_a_known_popug(computed):
    assert not passwords.verify_password("anything", None)
    assert not passwords.verify_password("anything", "md5$abc")
    assert not passwords.verify_password("anything", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA")
    assert len(computed) == 3 and len(set(computed)) == 1  # one cached dummy hash...
    assert computed[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")  # ...at today's parameters, as a known popug's
    known = passwords.hash_password("sunflower-seeds-42")
    assert passwords.verify_password("sunflower-seeds-42", known) and computed[-1] == known


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
