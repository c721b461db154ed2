"""HTTP helpers shared by every context's `api.py`: the resolver factory, one JSON error shape, and the
access gate that reads what the token authorizer passed on.

Every route lives under `/api` (one origin serves web and API); the prefix is stripped here so routers
declare `/auth/login`, not `/api/auth/login`.

Who may call a route is declared on the route, once, and that declaration is both the OpenAPI document
(`security: []` for a public route, `x-roles` for a role-restricted one, the document's bearer token
for every other) and the enforcement: the gate checks it before the request is validated or handled,
so a caller without the role learns nothing about the input's shape and causes nothing. The security
suite's role matrix is generated from the same documents (tests/security).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path

from shared.errors import BadRequest, DomainError, Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from shared.observability import logger

ROLES = ("worker", "manager", "admin", "accountant")
TOKEN_SCHEME = "popugToken"  # the OpenAPI security scheme: the bearer JWT the gateway's authorizer checks
# Our largest legitimate body is a console query or a task description (a few KiB). API Gateway takes
# up to 10 MB; anything past this is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
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


def domain_error_response(error: DomainError) -> Response:
    headers = {}
    if getattr(error, "retry_after", None):
        headers["Retry-After"] = str(error.retry_after)
    return error_response(error.status, error.code, error.message, headers or None, error.details)


def public() -> dict[str, Any]:
    """Route options of a route anyone may call without a token (the template gives it no authorizer)."""
    return {"openapi_extensions": {"security": []}}


def only(*roles: str) -> dict[str, Any]:
    """Route options of a route for callers holding any of `roles` (403 `forbidden` for the others)."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"a route needs known roles, not {sorted(unknown) or 'none'}")
    return {"openapi_extensions": {"x-roles": list(roles)}}


class GatedResolver(APIGatewayRestResolver):
    """The resolver with the access gate in front of every route, ahead of request validation.

    Powertools validates a request before any route middleware runs, so the gate sits where the matched
    route is called; a refusal is an ordinary response in the error shape."""

    def _call_route(self, route: Route, route_arguments: dict[str, str]) -> ResponseBuilder:
        try:
            self._admit(route)
        except DomainError as refusal:
            return self._response_builder_class(
                response=domain_error_response(refusal), serializer=self._serializer, route=route
            )
        return super()._call_route(route, route_arguments)

    def _admit(self, route: Route) -> None:
        body = self.current_event.body or ""
        if len(body) > MAX_BODY_BYTES:  # characters: a cheap lower bound on bytes, base64 or not
            raise PayloadTooLarge(f"the request body is over {MAX_BODY_BYTES // 1024} KiB")
        access = route.openapi_extensions or {}
        if access.get("security") != []:  # `[]` marks a public route
            who = caller(self)
            roles = access.get("x-roles")
            if roles and not who.has_any(*roles):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
        if body:
            _readable_json(self.current_event)


def _readable_json(event: Any) -> None:
    """Refuse what would break the body parser itself rather than fail its validation: a body that is not
    JSON (powertools would parse forms and multipart, which no route takes), bytes that are not UTF-8 (the
    gateway passes them base64-encoded) and JSON nested past the parser's recursion limit."""
    if "json" not in (event.headers.get("content-type") or "json").lower():  # headers: case-insensitive
        raise UnsupportedMediaType("send the request body as application/json")
    try:
        text = event.decoded_body
    except (UnicodeDecodeError, ValueError) as error:
        raise BadRequest("the request body is not UTF-8 text") from error
    try:
        json.loads(text)
    except RecursionError as error:
        raise BadRequest("the request body is nested too deeply") from error
    except ValueError:
        pass  # malformed JSON is the validator's 400, with its usual message


def make_resolver() -> APIGatewayRestResolver:
    app = GatedResolver(enable_validation=True, strip_prefixes=["/api"])
    app.exception_handler(DomainError)(domain_error_response)

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
