"""Step two of creating the first admin (R-AUTH-8): make an already hired employee an admin and give
them a random one-time password, returned once.

Step one hires them through staff (`staff.bootstrap_hire`), like anyone: `sub` is an employee id for
everyone. Auth learns of the hire from the EmployeeHired event, so this step waits (briefly) for the
account to appear. There is no default password anywhere; running it again sets a new random one
(the way back in when the only admin lost theirs).
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from auth import store
from auth.domain import normalise_email
from auth.events import account_events
from auth.passwords import generate_password, hash_password
from shared.email_address import EmailStr
from shared.observability import logger


class BootstrapRequest(BaseModel):
    email: EmailStr  # the same rule as the staff API, so the admin can be edited like anyone
    wait_seconds: float = Field(default=60, ge=0, le=600)


class NotHiredYet(RuntimeError):
    """No account for this email: the hire has not reached auth (or never happened)."""


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = BootstrapRequest.model_validate(event or {})
    email = normalise_email(request.email)
    deadline = time.monotonic() + request.wait_seconds
    while (before := store.find_by_email(email)) is None:
        if time.monotonic() >= deadline:
            raise NotHiredYet(f"no active account for {email}: hire them through staff first (staff bootstrap)")
        time.sleep(0.25)
    password = generate_password()
    own = tuple(dict.fromkeys((*before.own_roles, "admin")))
    # A reset like any other: sessions opened with the previous password end (R-SEC-3).
    after = before.with_roles(own, store.department_roles(before.department_id)).with_new_password(
        hash_password(password)
    )
    store.save(before, after, account_events(before, after))
    logger.info("bootstrap admin ready", account_id=after.account_id)
    return {"employee_id": after.account_id, "email": email, "password": password}
