"""Auth HTTP API: login (R-AUTH-1), JWKS (R-AUTH-2), the caller's own account, and the admin list."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from auth import store, tokens
from auth.domain import Claims, normalise_email
from auth.passwords import verify_password
from auth.settings import get as settings
from shared import clock, pagination
from shared.errors import NotFound, TooManyRequests, Unauthorized
from shared.http import caller, make_resolver, require_roles
from shared.observability import logger, tracer

app = make_resolver()


class LoginRequest(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


@app.post("/auth/login")
def login(body: LoginRequest) -> dict[str, Any]:
    email = normalise_email(body.email)
    now = clock.epoch_seconds()
    locked_for = store.get_guard(email).locked_for(now)
    if locked_for:
        raise TooManyRequests(
            f"too many failed sign-ins for this email; try again in {locked_for // 60 + 1} minutes",
            retry_after=locked_for,
            code="locked",
        )
    account = store.find_by_email(email)
    # The hash is checked even for an unknown email so both cases take the same time and get one answer.
    password_ok = verify_password(body.password, account.password_hash if account else None)
    if not (account and password_ok and account.active):
        store.record_failure(email, now)
        logger.info("sign-in refused", known=account is not None)
        raise Unauthorized("wrong email or password", code="invalid_credentials")
    store.clear_guard(email)
    config = settings()
    claims = Claims.issue(
        account.account_id,
        account.roles,
        issuer=config.token_issuer,
        audience=config.token_audience,
        now=now,
        ttl=config.token_ttl_seconds,
    )
    token = tokens.sign(claims, config.signing_key_id)
    return {"access_token": token, "token_type": "Bearer", "expires_in": config.token_ttl_seconds}


@app.get("/auth/.well-known/jwks.json")
def jwks() -> dict[str, Any]:
    return tokens.jwks(settings().verification_key_ids)


@app.get("/auth/me")
def me() -> dict[str, Any]:
    account = store.get_account(caller(app).employee_id)
    if account is None:
        raise NotFound("your account no longer exists")
    return account.public()


@app.get("/auth/accounts")
def list_accounts(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    require_roles(app, "admin")
    accounts, next_cursor = store.list_accounts(limit, cursor)
    now = clock.epoch_seconds()
    locks = store.locks_of([a.email for a in accounts])
    items = []
    for account in accounts:
        locked_until = locks.get(account.email, 0)
        shown = clock.iso(clock.datetime.fromtimestamp(locked_until, clock.UTC)) if locked_until > now else None
        items.append({**account.public(), "locked_until": shown})
    return {"items": items, "next_cursor": next_cursor}


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
