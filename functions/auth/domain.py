"""Pure auth rules: the login lock-out (R-AUTH-1), effective roles (R-AUTH-6) and token claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

from shared.http import ROLES

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60


@dataclass(frozen=True)
class LoginGuard:
    """Recent failed logins for one email, known or not, and the lock they may have caused."""

    failures: tuple[int, ...] = ()
    locked_until: int = 0
    revision: int = 0

    def locked_for(self, now: int) -> int:
        """Seconds the email stays locked, 0 when it is not."""
        return max(0, self.locked_until - now)

    def after_failure(self, now: int) -> LoginGuard:
        recent = (*(t for t in self.failures if t > now - WINDOW_SECONDS), now)
        if len(recent) >= MAX_FAILURES:
            return replace(self, failures=(), locked_until=now + LOCK_SECONDS, revision=self.revision + 1)
        return replace(self, failures=recent, revision=self.revision + 1)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def effective_roles(own: list[str] | tuple[str, ...], department: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The account's own roles plus those granted to its department (not inherited down the tree)."""
    held = set(own) | set(department)
    return [role for role in ROLES if role in held]


@dataclass(frozen=True)
class Claims:
    sub: str
    roles: list[str]
    iss: str
    aud: str
    iat: int
    exp: int
    jti: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def issue(cls, sub: str, roles: list[str], *, issuer: str, audience: str, now: int, ttl: int) -> Claims:
        return cls(sub=sub, roles=roles, iss=issuer, aud=audience, iat=now, exp=now + ttl)
