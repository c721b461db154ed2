"""What the auth functions read from their environment (set in template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import settings


@dataclass(frozen=True)
class AuthSettings:
    auth_table_name: str
    signing_key_id: str = ""
    previous_signing_key_ids: tuple[str, ...] = ()
    token_issuer: str = ""
    token_audience: str = ""
    token_ttl_seconds: int = 3600
    web_url: str = "http://127.0.0.1:8000"
    ses_sender: str = ""
    cognito_issuer: str = ""
    cognito_client_id: str = ""

    @property
    def verification_key_ids(self) -> tuple[str, ...]:
        """Keys whose tokens are accepted: the current one and those rotated out (R-AUTH-2)."""
        return tuple(dict.fromkeys(k for k in (self.signing_key_id, *self.previous_signing_key_ids) if k))


@cache
def get() -> AuthSettings:
    return settings.load(AuthSettings)
