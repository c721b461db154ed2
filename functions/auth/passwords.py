"""Password hashing with scrypt, a memory-hard salted hash from the standard library (R-AUTH-5).

n=2**14, r=8 costs 16 MiB and ~50 ms per hash: expensive for an attacker with a stolen table,
affordable for a login Lambda. Parameters are stored with the hash so they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

N, R, P, LENGTH = 2**14, 8, 1, 32
MIN_LENGTH = 10


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=LENGTH)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant work whether or not there is a stored hash, so timing does not reveal known emails."""
    encoded = stored or _dummy_hash()
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return stored is not None and hmac.compare_digest(actual, expected)


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A one-time password for the bootstrap admin: 16 random URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


def weakness(password: str) -> str | None:
    """Why a password is too weak, or None. Length matters most; a few classes stop `aaaaaaaaaa`."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    classes = sum(
        any(test(c) for c in password) for test in (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    )
    if classes < 2 or len(set(password)) < 5:
        return "the password is too easy to guess: mix letters with digits or symbols"
    return None
