"""The events an account change announces (R-AUTH-7): AccountCreated for a new account, then
AccountRolesChanged whenever its effective roles or its active flag change (its `version` grows)."""

from __future__ import annotations

from auth.domain import Account
from shared.contracts import REGISTRY, Envelope
from shared.contracts.auth import AccountCreatedV1, AccountRolesChangedV1


def account_events(before: Account | None, after: Account, correlation_id: str | None = None) -> list[Envelope]:
    if before is None:
        model = AccountCreatedV1
    elif after.version != before.version:
        model = AccountRolesChangedV1
    else:
        return []
    data = model(account_id=after.account_id, version=after.version, roles=list(after.roles), active=after.active)
    return [REGISTRY.envelope(data, correlation_id=correlation_id)]
