"""Passwords as OWASP ASVS level 2 wants them (R-AUTH-5, R-SEC-2).

The rule: 12 to 128 characters, any characters (spaces and every script too), no composition rules; a
password is refused when a strength estimator finds it guessable in fewer than 10^8 tries (zxcvbn score
below 3): one of, or close to, the 30,000 most common passwords of a 10-million-password breach corpus,
common words and names alone, keyboard rows, repeats, sequences, dates, or the popug's own name or email.
zxcvbn ships its lists in the package (nothing is fetched at run time); the web's strength meter runs the
JavaScript original on the same lists, so what it shows is what the API decides.

Storage: argon2id at the OWASP password storage cheat sheet's parameters, m=19456 KiB (19 MiB), t=2, p=1,
a 16-byte salt and a 32-byte hash, as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). argon2id is
the cheat sheet's first choice and memory-hard like scrypt, and this setting is about 45 ms of one core per
hash, where scrypt at OWASP's equivalent (N=2^17, r=8, p=1: 128 MiB) took 0.54 s: sign-in stays cheap under
load while a stolen table still costs an attacker 19 MiB and two passes per guess. The hashing is
argon2-cffi's (a binding to the reference C implementation); the parameters travel with each hash, and at
45 ms no stack needs a cheaper setting, so there is nothing to tune.

Hashes stored before (`scrypt$N$r$p$salt$digest`) still verify, and any of them, like an argon2id hash made
below today's parameters, is redone as argon2id on the next successful sign-in (`needs_rehash`): every active
popug is upgraded without a reset. A stored hash asking for far more work than ours (scrypt above N=2^20,
argon2 above 4x our memory or passes) is not one we made: refused, never computed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import cache
from typing import Any

from argon2 import Parameters, PasswordHasher, Type, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP password storage cheat sheet: argon2id, m=19 MiB, t=2, p=1 (RFC 9106's 16-byte salt and 32-byte tag).
MEMORY_KIB, TIME_COST, PARALLELISM, SALT_BYTES, HASH_BYTES = 19456, 2, 1, 16, 32
# A stored argon2 hash asking for more is not ours: refused, not computed (at most ~16x the work of ours).
MAX_MEMORY_KIB, MAX_TIME_COST, MAX_PARALLELISM, MAX_HASH_BYTES = 4 * MEMORY_KIB, 4 * TIME_COST, 4, 64
_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_BYTES,
    salt_len=SALT_BYTES,
    type=Type.ID,
)
ARGON2ID = "$argon2id$v=19$"
# Hashes stored before argon2id: scrypt, verified at the parameters they carry, then upgraded.
MAX_N, MAX_R, MAX_P = 2**20, 32, 4  # a stored scrypt hash asking for more is not ours: refused, not computed
MIN_LENGTH, MAX_LENGTH = 12, 128
MIN_SCORE = 3  # zxcvbn: 3 = at least 10^8 guesses ("safely unguessable" online, moderate offline)
# Words anyone attacking aTES would try first, whoever the popug is.
SITE_WORDS = ("ates", "uberpopug", "popug", "popugs", "parrot")


def hash_password(password: str) -> str:
    """A new hash: argon2id at today's parameters, with a fresh random salt."""
    return _HASHER.hash(password)


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` is the one `stored` was made from. Without a usable stored hash (unknown email,
    damaged or foreign hash) a dummy argon2id hash at today's parameters is checked instead, so timing does
    not reveal known emails; such a check never matches, and nothing here raises."""
    if stored and _argon2_parameters(stored):
        return _argon2_matches(password, stored)
    if stored and (scrypt := _scrypt_parameters(stored)):
        return _scrypt_matches(password, stored, *scrypt)
    _argon2_matches(password, _dummy_hash())  # the same work as a known popug's sign-in, then no
    return False


def needs_rehash(stored: str | None) -> bool:
    """True for a hash to redo when its password is next proven: any scrypt hash, and an argon2 hash made
    below today's parameters. (Not argon2's `check_needs_rehash`: it would also redo a stronger hash down.)"""
    if not stored:
        return False
    if _scrypt_parameters(stored):
        return True
    found = _argon2_parameters(stored)
    return found is not None and (
        found.memory_cost < MEMORY_KIB
        or found.time_cost < TIME_COST
        or found.salt_len < SALT_BYTES
        or found.hash_len < HASH_BYTES
    )


def _argon2_parameters(stored: str) -> Parameters | None:
    """The parameters of a stored argon2id hash, or None when it is not one we could have made."""
    if not stored.startswith(ARGON2ID) or not stored.isascii():
        return None
    try:
        found = extract_parameters(stored)
    except InvalidHashError:
        return None
    if found.type is not Type.ID or found.version != 19:
        return None
    if not (
        0 < found.memory_cost <= MAX_MEMORY_KIB
        and 0 < found.time_cost <= MAX_TIME_COST
        and 0 < found.parallelism <= MAX_PARALLELISM
        and found.salt_len >= 8
        and 16 <= found.hash_len <= MAX_HASH_BYTES
    ):
        return None
    return found


def _argon2_matches(password: str, stored: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, ValueError):  # a mismatch, or a damaged hash (InvalidHashError is a ValueError)
        return False


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _scrypt_parameters(stored: str) -> tuple[int, int, int] | None:
    """(n, r, p) of a stored scrypt hash, or None when it is not one we could have made."""
    try:
        scheme, n, r, p, _salt, _digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
    except ValueError:
        return None
    if scheme != "scrypt" or not (1 < n <= MAX_N and n & (n - 1) == 0 and 0 < r <= MAX_R and 0 < p <= MAX_P):
        return None
    return n, r, p


def _scrypt_matches(password: str, stored: str, n: int, r: int, p: int) -> bool:
    salt, digest = stored.split("$")[4:]
    try:
        expected = base64.b64decode(digest)
        # Python's default maxmem (32 MiB) refuses N=2^17; scrypt needs 128 * r * (N + p + 2) bytes.
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=n,
            r=r,
            p=p,
            dklen=len(expected),
            maxmem=128 * r * (n + p + 2) + 2**20,
        )
    except ValueError:  # binascii.Error too: a damaged hash never matches
        return False
    return hmac.compare_digest(actual, expected)


def generate_password() -> str:
    """A one-time password for the bootstrap admin: 16 random URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


def weakness(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a new password is refused, in words for the popug who typed it; None when it is fine.
    `user_inputs` are what an attacker knows of this popug (name, email): a password built on them is weak."""
    length = len(password)  # characters (code points), as the web counts them
    if length < MIN_LENGTH:
        return (
            f"the password must have at least {MIN_LENGTH} characters (this one has {length}); "
            "a few unrelated words make a good one"
        )
    if length > MAX_LENGTH:
        return f"the password must have at most {MAX_LENGTH} characters (this one has {length})"
    from zxcvbn import zxcvbn  # here, not at import: its lists take ~80 ms to load and only new passwords need them

    inputs = [*SITE_WORDS, *(part for value in user_inputs for part in _words_of(value))]
    estimate = zxcvbn(password, user_inputs=inputs, max_length=MAX_LENGTH)
    if estimate["score"] >= MIN_SCORE:
        return None
    return f"the password is too easy to guess: {_reason(estimate['sequence'])}; add a few unrelated words"


def _words_of(value: str) -> list[str]:
    """`Kesha Popugaeva` -> `kesha popugaeva`, `keshapopugaeva`, `kesha`, `popugaeva` (an email likewise, by its
    dots, dashes and @): zxcvbn then knows the pieces and how they run together."""
    value = value.strip().lower()
    parts = re.split(r"[\s@._+-]+", value)
    return [p for p in dict.fromkeys([value, "".join(parts), *parts]) if p]


def _reason(sequence: list[dict[str, Any]]) -> str:
    """What makes the password guessable, from the longest guessable piece zxcvbn found in it (the web's
    meter says the same, see web/forms.js)."""
    pieces = [match for match in sequence if match.get("pattern") != "bruteforce"]
    if not pieces:
        return "it is too short for how random it is"
    match = max(pieces, key=lambda m: len(m.get("token", "")))
    pattern = match["pattern"]
    if pattern == "dictionary":
        name = match.get("dictionary_name")
        if name == "passwords":
            return "it is, or is close to, one of the most common passwords, the first ones an attacker tries"
        if name == "user_inputs":
            return "it is built on your name, your email or the company's name"
        return "it is built on a common word or name"
    return {
        "spatial": "it follows keys that sit next to each other on the keyboard",
        "repeat": "it repeats the same characters or words",
        "sequence": "it is a sequence like abc or 6543",
        "regex": "it relies on a recent year",
        "date": "it relies on a date",
    }.get(pattern, "it follows a pattern that is quick to guess")
