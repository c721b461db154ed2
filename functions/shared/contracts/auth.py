"""Events of the auth context (source `ates.auth`), SPEC §9."""

from __future__ import annotations

from shared.contracts.base import UUID, EntityVersion, EventData, Role


class AccountCreatedV1(EventData):
    account_id: UUID
    version: EntityVersion
    roles: list[Role]
    active: bool


class AccountRolesChangedV1(AccountCreatedV1):
    pass
