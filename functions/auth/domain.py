"""Pure auth rules: the login lock-out (R-AUTH-1), accounts as staff events shape them (R-AUTH-4),
effective roles (R-AUTH-6, R-AUTH-7) and token claims."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from shared.roles import ROLES

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
LOCK_SECONDS = 15 * 60
INVITATION_TTL_SECONDS = 72 * 3600
RETENTION_AFTER_DEACTIVATION_SECONDS = 365 * 24 * 3600  # SPEC §10


def ticket_time(ticket: str) -> int:
    """When a sign-in ticket was taken: tickets are `<epoch seconds>:<random>`, unique even within a second."""
    return int(ticket.split(":", 1)[0])


@dataclass(frozen=True)
class LoginGuard:
    """The sign-in tickets of one email, known or not, and the lock they may have caused (R-AUTH-1, R-SEC-1).

    A sign-in takes a ticket BEFORE its password is checked, with a conditional write that succeeds only
    while fewer than MAX_FAILURES tickets are held; a ticket is given back when its password was right,
    so the tickets still held are failures, or attempts being judged right now. At most MAX_FAILURES
    passwords are therefore judged in any WINDOW_SECONDS, however many requests arrive at once; the
    fifth failure also locks the email for LOCK_SECONDS, whatever tickets age out meanwhile.
    """

    tickets: frozenset[str] = frozenset()
    locked_until: int = 0

    def live(self, now: int) -> list[str]:
        """Tickets taken within the window, oldest first."""
        return sorted((t for t in self.tickets if ticket_time(t) > now - WINDOW_SECONDS), key=ticket_time)

    def stale(self, now: int) -> list[str]:
        """Tickets older than the window: they no longer count and may be dropped by anyone."""
        live = set(self.live(now))
        return sorted(t for t in self.tickets if t not in live)

    def wait(self, now: int) -> int:
        """Seconds until a ticket can be had (0: one can be had now)."""
        if self.locked_until > now:
            return self.locked_until - now
        live = self.live(now)
        if len(live) < MAX_FAILURES:
            return 0
        return max(1, ticket_time(live[-MAX_FAILURES]) + WINDOW_SECONDS - now)

    def locks_after_failure(self, now: int) -> list[str] | None:
        """The failures that lock the email now (the window holds MAX_FAILURES live tickets), or None."""
        live = self.live(now)
        return live[-MAX_FAILURES:] if len(live) >= MAX_FAILURES else None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def effective_roles(own: list[str] | tuple[str, ...], department: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The account's own roles plus those granted to its department (not inherited down the tree)."""
    held = set(own) | set(department)
    return [role for role in ROLES if role in held]


@dataclass(frozen=True)
class Account:
    """A popug's account. `version` grows with every change other contexts should hear of;
    `employee_version` is the newest staff data event applied, so older ones are ignored."""

    account_id: str
    email: str | None
    name: str
    own_roles: tuple[str, ...]
    roles: tuple[str, ...]
    active: bool
    version: int
    department_id: str | None = None
    employee_version: int = 0
    password_hash: str | None = None
    revision: int = 0  # bumped by every write; the store's optimistic lock
    expires_at: int | None = None  # set once when it is deactivated: kept a year from then (SPEC §10)
    # Grows with every new password (set from an invitation, changed, reset): tokens carry the epoch they were
    # issued in, and the authorizer refuses those of an earlier one (R-SEC-3).
    session_epoch: int = 0

    def public(self) -> dict[str, Any]:
        """What the API shows: never the password hash."""
        return {
            "account_id": self.account_id,
            "employee_id": self.account_id,
            "email": self.email,
            "name": self.name,
            "roles": list(self.roles),
            "own_roles": list(self.own_roles),
            "active": self.active,
            "department_id": self.department_id,
            "version": self.version,
        }

    def with_new_password(self, password_hash: str) -> Account:
        """A password set, changed or reset: every session opened before it ends (R-SEC-3)."""
        return replace(self, password_hash=password_hash, session_epoch=self.session_epoch + 1)

    def ends_session(self, token_epoch: int) -> bool:
        """True for a token issued before the account's current password (R-SEC-3)."""
        return token_epoch < self.session_epoch

    def with_roles(self, own: tuple[str, ...], department_roles: tuple[str, ...]) -> Account:
        """New own roles and/or department grants; `version` grows only if the effective roles change."""
        roles = tuple(effective_roles(own, department_roles))
        bump = 1 if roles != self.roles else 0
        return replace(self, own_roles=own, roles=roles, version=self.version + bump)


def from_employee(
    current: Account | None,
    *,
    employee_id: str,
    version: int,
    name: str,
    email: str,
    department_id: str | None,
    department_roles: tuple[str, ...],
) -> Account | None:
    """Apply EmployeeHired/EmployeeUpdated; None when the event is not newer than what is held
    (redelivered or overtaken), so consumers are correct in any order."""
    if current is not None and current.employee_version >= version:
        return None
    if current is None:
        own = ("worker",)
        return Account(
            account_id=employee_id, email=normalise_email(email), name=name, own_roles=own,
            roles=tuple(effective_roles(own, department_roles)), active=True, version=1,
            department_id=department_id, employee_version=version,
        )  # fmt: skip
    updated = replace(
        current, email=normalise_email(email), name=name, department_id=department_id, employee_version=version
    )
    return updated.with_roles(current.own_roles, department_roles)


def dismissed(current: Account | None, *, employee_id: str, version: int) -> Account | None:
    """Apply EmployeeDismissed: the account goes inactive for good (a tombstone if auth never saw the
    hire, so a late EmployeeHired cannot bring it back)."""
    if current is None:
        return Account(
            account_id=employee_id, email=None, name="", own_roles=("worker",), roles=("worker",), active=False,
            version=1, employee_version=version,
        )  # fmt: skip
    if current.employee_version >= version or not current.active:
        return None if current.employee_version >= version else replace(current, employee_version=version)
    return replace(current, active=False, version=current.version + 1, employee_version=version)


@dataclass(frozen=True)
class Claims:
    sub: str
    roles: list[str]
    iss: str
    aud: str
    iat: int
    exp: int
    jti: str = field(default_factory=lambda: str(uuid.uuid4()))
    session_epoch: int = 0  # the account's epoch when issued: a later password change voids the token (R-SEC-3)

    @classmethod
    def issue(cls, account: Account, *, issuer: str, audience: str, now: int, ttl: int) -> Claims:
        return cls(
            sub=account.account_id, roles=list(account.roles), iss=issuer, aud=audience, iat=now, exp=now + ttl,
            session_epoch=account.session_epoch,
        )  # fmt: skip
