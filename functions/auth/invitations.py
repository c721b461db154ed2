"""Invitations (R-AUTH-4): a one-time, expiring link to set a password, sent by email.

The token is random and only its hash is stored; the email is queued as a MAIL item in the same
transaction as the account (the mailer sends it from the table's stream, at least once), so an
account never exists without its invitation on the way. Only the newest link of an account works: sending
a new one voids the older ones (R-SEC-3).
"""

from __future__ import annotations

import secrets
from typing import Any

from auth import store
from auth.domain import INVITATION_TTL_SECONDS
from auth.settings import get as settings
from shared import clock


def invite(account_id: str, email: str, name: str) -> list[dict[str, Any]]:
    """The actions that create the invitation (voiding the account's older links) and queue its email."""
    token = secrets.token_urlsafe(32)
    expires_at = clock.epoch_seconds() + INVITATION_TTL_SECONDS
    link = f"{settings().web_url.rstrip('/')}/set-password?token={token}"
    text = (
        f"Hello {name},\n\nyou have been hired at UberPopug Inc. Set your aTES password here:\n\n{link}\n\n"
        f"The link works once and expires in {INVITATION_TTL_SECONDS // 3600} hours.\n"
    )
    return [
        *store.invitation_actions(account_id, token, expires_at),
        store.mail_action(email, "Welcome to aTES: set your password", text),
    ]
