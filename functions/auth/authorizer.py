"""The API's token authorizer (R-AUTH-3): verifies the token, then reads the account on EVERY call
(the authorizer is not cached) and passes the CURRENT roles, department and active flag to handlers.

Raising "Unauthorized" makes API Gateway answer 401 (no token, bad token); a Deny policy makes it
answer 403 (a valid token of an account that is gone or deactivated).
"""

from __future__ import annotations

from typing import Any

from auth import store, tokens
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


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raw = event.get("authorizationToken") or ""
    scheme, _, token = raw.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Exception("Unauthorized")  # the exact message API Gateway maps to 401
    config = settings()
    try:
        claims = tokens.verify(
            token.strip(),
            keys=config.verification_key_ids,
            issuer=config.token_issuer,
            audience=config.token_audience,
        )
    except tokens.InvalidToken as error:
        logger.info("token refused", reason=str(error))
        raise Exception("Unauthorized") from None

    account = store.get_account(claims["sub"])
    if account is None or not account.active:
        logger.info("account missing or inactive", sub=claims["sub"])
        return _policy(claims["sub"], "Deny", event["methodArn"])
    return _policy(
        account.account_id,
        "Allow",
        event["methodArn"],
        {
            "sub": account.account_id,
            "roles": ",".join(account.roles),
            "department_id": account.department_id or "",
            "active": "true",
        },
    )
