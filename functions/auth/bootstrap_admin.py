"""One-off creation of the first admin (R-AUTH-8), with a random one-time password returned once.

Invoked by devstack at startup and, in AWS, by `sam remote invoke AuthBootstrapAdminFunction`.
There is no default password anywhere: running it again for the same email sets a new random
password (the way back in when the only admin lost theirs) and makes sure the account is an admin.
Until the staff context exists the admin gets a fresh employee id here; later bootstrap hires them
through staff like anyone else.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, Field

from auth import store
from auth.domain import effective_roles, normalise_email
from auth.passwords import generate_password, hash_password
from shared.contracts import REGISTRY
from shared.contracts.auth import AccountCreatedV1, AccountRolesChangedV1
from shared.observability import logger


class BootstrapRequest(BaseModel):
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="Admin", min_length=1, max_length=200)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = BootstrapRequest.model_validate(event or {})
    email = normalise_email(request.email)
    password = generate_password()
    existing = store.find_by_email(email)
    if existing is None:
        account = store.Account(
            account_id=str(uuid.uuid4()),
            email=email,
            name=request.name,
            roles=["admin"],
            active=True,
            version=1,
            password_hash=hash_password(password),
        )
        event_data = AccountCreatedV1(account_id=account.account_id, version=1, roles=account.roles, active=True)
        store.create_account(account, [REGISTRY.envelope(event_data)])
        logger.info("bootstrap admin created", account_id=account.account_id)
    else:
        roles = effective_roles([*existing.roles, "admin"])
        account = replace(
            existing, roles=roles, active=True, version=existing.version + 1, password_hash=hash_password(password)
        )
        event_data = AccountRolesChangedV1(
            account_id=account.account_id, version=account.version, roles=roles, active=True
        )
        store.save_account(account, expected_version=existing.version, events=[REGISTRY.envelope(event_data)])
        logger.info("bootstrap admin password reset", account_id=account.account_id)
    return {"employee_id": account.account_id, "email": email, "password": password}
