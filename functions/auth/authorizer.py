"""The API's token authorizer (R-AUTH-3): verifies the token, then reads the account on EVERY call
(the authorizer is not cached) and passes the CURRENT roles, department and active flag to handlers. A token
issued before the account's latest password (set, changed or reset) is refused like an expired one (R-SEC-3).

Two kinds of issuer are trusted: ours (RS256 keys in KMS) and, optionally, a Cognito user pool
(its JWKS). A Cognito token names the employee in `custom:employee_id` (its `sub` is Cognito's own
id), its app client in `client_id` (not `aud`), and its roles as `cognito:groups`; the account is
checked all the same, so a dismissed popug is refused whichever way they signed in.

Raising "Unauthorized" makes API Gateway answer 401 (no token, bad token); a Deny policy makes it
answer 403 (a valid token of an account that is gone or deactivated).
"""

from __future__ import annotations

from typing import Any

from auth import store, tokens
from auth.domain import effective_roles
from auth.settings import get as settings
from shared.observability import logger, tracer


def _policy(principal: str, effect: str, resource: str, context: dict[str, str] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        response["context"] = context
    return response


def identify(token: str) -> tuple[str, list[str] | None, int | None]:
    """(employee id, roles the token itself asserts or None to use the account's, the session epoch it was
    issued in or None when it is not ours to judge); `InvalidToken` else."""
    config = settings()
    if config.cognito_issuer and tokens.unverified_issuer(token) == config.cognito_issuer:
        claims = tokens.verify_cognito(token, issuer=config.cognito_issuer, client_id=config.cognito_client_id)
        employee_id = claims.get("custom:employee_id")
        if not employee_id:
            raise tokens.InvalidToken("Cognito token without custom:employee_id")
        return employee_id, effective_roles(claims.get("cognito:groups") or []), None
    claims = tokens.verify(
        token, keys=config.verification_key_ids, issuer=config.token_issuer, audience=config.token_audience
    )
    epoch = claims.get("session_epoch", 0)  # tokens issued before epochs existed belong to epoch 0
    return claims["sub"], None, epoch if isinstance(epoch, int) else -1


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raw = event.get("authorizationToken") or ""
    scheme, _, token = raw.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Exception("Unauthorized")  # the exact message API Gateway maps to 401
    try:
        employee_id, asserted_roles, session_epoch = identify(token.strip())
    except tokens.InvalidToken as error:
        logger.info("token refused", reason=str(error))
        raise Exception("Unauthorized") from None

    account = store.get_account(employee_id)
    if account is None or not account.active:
        logger.info("account missing or inactive", sub=employee_id)
        return _policy(employee_id, "Deny", event["methodArn"])
    if session_epoch is not None and account.ends_session(session_epoch):
        # The password changed since this token was issued: its session is over, sign in again (401).
        logger.info("token of an ended session", sub=employee_id)
        raise Exception("Unauthorized")
    roles = asserted_roles if asserted_roles is not None else list(account.roles)
    return _policy(
        account.account_id,
        "Allow",
        event["methodArn"],
        {
            "sub": account.account_id,
            "roles": ",".join(roles),
            "department_id": account.department_id or "",
            "active": "true",
        },
    )
