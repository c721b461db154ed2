"""HTTP helpers shared by every context's `api.py`: the resolver factory, one JSON error shape, and the
role guard that reads what the token authorizer passed on.

Every route lives under `/api` (one origin serves web and API); the prefix is stripped here so routers
declare `/auth/login`, not `/api/auth/login`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path

from shared.errors import DomainError, Forbidden, Unauthorized
from shared.observability import logger

ROLES = ("worker", "manager", "admin", "accountant")
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A public id in a path (`/staff/employees/<employee_id>`): a malformed one is a 422, never a lookup.
PathId = Annotated[str, Path(pattern=UUID_PATTERN)]


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, details: dict | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, **(details or {})}},
        headers=headers,
    )


def make_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, strip_prefixes=["/api"])

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response:
        headers = {}
        if getattr(error, "retry_after", None):
            headers["Retry-After"] = str(error.retry_after)
        return error_response(error.status, error.code, error.message, headers or None, error.details)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        problems = error.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            return error_response(400, "bad_request", "the request body is not valid JSON")
        return error_response(422, "validation_error", describe(problems))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    return app


def describe(problems: list[dict[str, Any]]) -> str:
    """Pydantic's error list as one readable sentence: `body.email: field required; ...`."""
    parts = []
    for problem in problems[:5]:
        where = ".".join(str(p) for p in problem.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return "; ".join(parts) or "the request is invalid"


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the token authorizer read it from the account on THIS request (R-AUTH-3)."""

    employee_id: str
    roles: frozenset[str]
    department_id: str | None

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def caller(app: APIGatewayRestResolver) -> Caller:
    context = app.current_event.request_context.authorizer.raw_event or {}
    sub = context.get("sub") or context.get("principalId")
    if not sub:
        raise Unauthorized("no authenticated caller")
    roles = frozenset(r for r in str(context.get("roles", "")).split(",") if r)
    return Caller(employee_id=sub, roles=roles, department_id=context.get("department_id") or None)


def require_roles(app: APIGatewayRestResolver, *roles: str) -> Caller:
    """The caller, if they hold any of `roles`; otherwise 403 (403 is only ever for missing roles)."""
    who = caller(app)
    if not who.has_any(*roles):
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    return who
