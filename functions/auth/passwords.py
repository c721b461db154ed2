"""Passwords as OWASP ASVS level 2 wants them (R-AUTH-5, R-SEC-2).

The rule: 12 to 128 characters, any characters (spaces and every script too), no composition rules; a
password is refused when a strength estimator finds it guessable in fewer than 10^8 tries (zxcvbn score
below 3): one of, or close to, the 30,000 most common passwords of a 10-million-password breach corpus,
common words and names alone, keyboard rows, repeats, sequences, dates, or the popug's own name or email.
zxcvbn ships its lists in the package (nothing is fetched at run time); the web's strength meter runs the
JavaScript original on the same lists, so what it shows is what the API decides.

Storage: scrypt at OWASP's parameters, N=2^17, r=8, p=1: 128 MiB and a few hundred milliseconds of one
core per hash, expensive for anyone with a stolen table. The cost (log2 N) is a setting (the template's
PasswordHashCost), stored with each hash; a hash made at a lower cost is redone on the next successful
sign-in (`needs_rehash`), so raising it upgrades every active popug without a reset.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from functools import cache
from typing import Any

R, P, LENGTH = 8, 1, 32
LOG2_N = 17  # OWASP password storage cheat sheet: scrypt N=2^17, r=8, p=1
MAX_LOG2_N, MAX_R, MAX_P = 20, 32, 4  # a stored hash asking for more is not ours: refused, not computed
MIN_LENGTH, MAX_LENGTH = 12, 128
MIN_SCORE = 3  # zxcvbn: 3 = at least 10^8 guesses ("safely unguessable" online, moderate offline)
# Words anyone attacking aTES would try first, whoever the popug is.
SITE_WORDS = ("ates", "uberpopug", "popug", "popugs", "parrot")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # Python's default maxmem (32 MiB) refuses N=2^17; scrypt needs 128 * r * (N + p + 2) bytes.
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=128 * r * (n + p + 2) + 2**20
    )


def hash_password(password: str, log2_n: int = LOG2_N) -> str:
    salt = secrets.token_bytes(16)
    n = 2**log2_n
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, n, R, P, LENGTH))}"


def _parameters(stored: str) -> tuple[int, int, int] | None:
    """(n, r, p) of a stored scrypt hash, or None when it is not one we could have made."""
    try:
        scheme, n, r, p, _salt, _digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
    except ValueError:
        return None
    if scheme != "scrypt" or not (1 < n <= 2**MAX_LOG2_N and n & (n - 1) == 0 and 0 < r <= MAX_R and 0 < p <= MAX_P):
        return None
    return n, r, p


def verify_password(password: str, stored: str | None, log2_n: int = LOG2_N) -> bool:
    """Work at the current cost whether or not there is a stored hash, so timing does not reveal known emails."""
    known = stored if stored and _parameters(stored) else None
    encoded = known or _dummy_hash(log2_n)
    n, r, p = _parameters(encoded) or (2**log2_n, R, P)
    salt, digest = encoded.split("$")[4:]
    try:
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), n, r, p, len(expected))
    except ValueError:  # binascii.Error too: a damaged hash never matches
        return False
    return known is not None and hmac.compare_digest(actual, expected)


def needs_rehash(stored: str | None, log2_n: int = LOG2_N) -> bool:
    """True for a hash made at a lower cost than today's (it is redone when its password is next proven)."""
    found = _parameters(stored or "")
    return found is not None and (found[0] < 2**log2_n or found[1] < R)


@cache
def _dummy_hash(log2_n: int) -> str:
    return hash_password(secrets.token_urlsafe(16), log2_n)


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
