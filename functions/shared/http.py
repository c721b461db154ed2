"""HTTP helpers shared by every context's `api.py`: the resolver factory, one JSON error shape, and the
access gate that reads what the token authorizer passed on.

Every route lives under `/api` (one origin serves web and API); the prefix is stripped here so routers
declare `/auth/login`, not `/api/auth/login`.

Who may call a route is declared on the route, once, and that declaration is both the OpenAPI document
(`security: []` for a public route, `x-roles` for a role-restricted one, the document's bearer token
for every other) and the enforcement: the gate checks it before the request is validated or handled,
so a caller without the role learns nothing about the input's shape and causes nothing. The security
suite's role matrix is generated from the same documents (tests/security).

The documents also list every response a route can give: its success status with the body its return
annotation names (checked on the way out: a handler cannot answer what its document does not say), and
every error status with the one error shape. The errors a route answers because of what it is (a token
route 401, a role route 403, a route with parameters 422, a route with a body 400/413/415, every route
the gateway's 429) are added here from the route itself; a route declares only its own (`errors(404)`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from shared.errors import BadRequest, DomainError, Forbidden, PayloadTooLarge, Unauthorized, UnsupportedMediaType
from shared.observability import logger
from shared.problems import from_validation, invalid
from shared.responses import ResponseModel as ResponseModel  # the routes import it from here
from shared.roles import ROLES

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

TOKEN_SCHEME = "popugToken"  # the OpenAPI security scheme: the bearer JWT the gateway's authorizer checks
# Our largest legitimate body is a console query or a task description (a few KiB). API Gateway takes
# up to 10 MB; anything past this is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# A public id in a path (`/staff/employees/<employee_id>`): a malformed one is a 422, never a lookup.
PathId = Annotated[str, Path(pattern=UUID_PATTERN)]


class FieldProblemDetail(BaseModel):
    field: str = Field(description="the parameter or body field, as the API names it: `q`, `name`, `roles[0]`")
    in_: Literal["query", "path", "body", "header", "cookie"] = Field(alias="in")
    problem: str = Field(description="what is wrong, for programs: `missing`, `string_too_long`, `taken`, ...")
    message: str = Field(description="one sentence about this field, for people (shown beside it)")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")  # machine-readable extras beside code and message (e.g. a job id)

    code: str = Field(description="What went wrong, for programs: `not_found`, `validation_error`, `locked`, ...")
    message: str = Field(
        description="What went wrong and what to do about it, for people: sentences naming fields in words, never "
        "field paths, patterns or a library's wording (R-UI-7)"
    )
    fields: list[FieldProblemDetail] | None = Field(
        default=None, description="each field the request got wrong (422s and some 409s), for forms and programs"
    )


class ErrorResponse(BaseModel):
    """The body of every 4xx and 5xx, whoever answers it: a handler, the access gate or the gateway (SPEC §11)."""

    error: ErrorDetail


# Why each error status happens, for the documents; a route's own statuses say more in its `errors(...)`.
ERROR_CAUSES = {
    400: "the request body is not JSON, not UTF-8 text or nested too deeply (`bad_request`)",
    401: "no valid access token (`unauthorized`)",
    403: "the caller lacks a role this needs (`forbidden`)",
    404: "no such resource (`not_found`)",
    409: "the resource's state does not allow this now (`conflict` and more specific codes)",
    410: "gone for good",
    413: f"the request body is over {MAX_BODY_BYTES // 1024} KiB (`payload_too_large`)",
    415: "the request body is not `application/json` (`unsupported_media_type`)",
    422: "a parameter or the body breaks the documented schema (`validation_error`) or a rule of the domain",
    429: "too many requests: the gateway's throttle (`too_many_requests`)",
}
ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
CSV_EXTENSION = "x-csv"  # route option: its success also comes as CSV when asked `?format=csv`
CSV_MEDIA_TYPE = "text/csv"
CSV_DESCRIPTION = "RFC 4180: a header row, CRLF line ends; text that a spreadsheet would run as a formula starts with '"


def _error_doc(status: int, cause: str | None = None) -> OpenAPIResponse:
    description = cause or ERROR_CAUSES.get(status) or HTTPStatus(status).phrase
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"schema": ERROR_SCHEMA}}}


def errors(*statuses: int | tuple[int, str]) -> dict[int, OpenAPIResponse]:
    """A route's own error statuses, for its decorator's `responses=`: `errors(404, (409, "why"))`. The ones
    every route of its kind answers (401, 403, 400/413/415, 422, 429) are added by the resolver."""
    documented: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        code, cause = status if isinstance(status, tuple) else (status, None)
        documented[code] = _error_doc(code, cause)
    return documented


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, details: dict | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message, **(details or {})}},
        headers=headers,
    )


def answer(status: int, body: Any) -> Response:
    """A success other than 200 (its decorator says the same `status_code`, for the document). Said here as
    well because powertools applies the decorator's status from the resolver's per-request context, which
    another request resolved meanwhile on the same resolver clears (a threaded test does that)."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


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

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}/*$") -> re.Pattern[str]:
        """A path parameter is the whole segment API Gateway routed here, not only powertools' URI-safe
        characters: a malformed id then meets its validation (422) instead of passing for an unknown
        route (404 `no route`)."""
        return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))

    def _call_route(self, route: Route, route_arguments: dict[str, str]) -> ResponseBuilder:
        try:
            self._admit(route)
        except DomainError as refusal:
            return self._response_builder_class(
                response=domain_error_response(refusal), serializer=self._serializer, route=route
            )
        return super()._call_route(route, route_arguments)

    def get_openapi_schema(self, **options: Any) -> OpenAPI:
        """The document with every route's real responses, and none of powertools' defaults (a FastAPI-style
        422 `{detail}` on every route, whatever it takes): the API answers neither."""
        routes = [r for r in self._static_routes + self._dynamic_routes if r.include_in_schema]
        for route in routes:
            route.responses = documented_responses(route)
        document = super().get_openapi_schema(**options)
        for route in routes:
            operation = getattr(document.paths[route.openapi_path], route.method.lower())
            operation.responses = {k: v for k, v in operation.responses.items() if int(k) in route.responses}
            if (route.openapi_extensions or {}).get(CSV_EXTENSION):
                _document_csv(operation.responses[route.status_code])
        schemas = document.components.schemas
        for default in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
            schemas.pop(default, None)
        from aws_lambda_powertools.event_handler.openapi.models import Schema

        error = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, schema in {**error.pop("$defs"), "ErrorResponse": error}.items():
            schemas[name] = Schema.model_validate(schema)
        document.components.schemas = dict(sorted(schemas.items()))
        return document

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


# `?format=csv` on a route marked `csv_too(...)`: validated here (anything else is a 422) and documented;
# the CSV itself is made from the route's JSON answer on the way out (shared.csv_export.response).
Format = Annotated[
    Literal["json", "csv"] | None,
    Query(description="`csv` answers the same rows as RFC 4180 text (a header row; formula-like text guarded)"),
]


def csv_too(access: dict[str, Any] | None = None) -> dict[str, Any]:
    """Route options: `access` (an `only(...)`, or none) plus the mark that its success also comes as CSV."""
    extensions = (access or {}).get("openapi_extensions", {})
    return {"openapi_extensions": {**extensions, CSV_EXTENSION: True}}


def _document_csv(success: Any) -> None:
    """The success of a route marked `x-csv` also comes as `text/csv` (`?format=csv`, shared.csv_export)."""
    from aws_lambda_powertools.event_handler.openapi.models import MediaType, Schema

    content = success.content if hasattr(success, "content") else success.get("content")
    content[CSV_MEDIA_TYPE] = MediaType(schema=Schema(type="string", description=CSV_DESCRIPTION))


def documented_responses(route: Route) -> dict[int, OpenAPIResponse]:
    """The route's success status (its body from the return annotation), the errors it declares, and the
    errors the shared layer answers for a route like it: the gate's, the validator's and the gateway's."""
    status = route.status_code
    success: OpenAPIResponse = {"description": route.response_description or HTTPStatus(status).phrase}
    if status == HTTPStatus.NO_CONTENT:
        success["content"] = {}
    dependant = route.dependant
    access = route.openapi_extensions or {}
    shared = {429}
    if access.get("security") != []:
        shared.add(401)
    if access.get("x-roles"):
        shared.add(403)
    if dependant.body_params:
        shared |= {400, 413, 415}
    if dependant.body_params or dependant.path_params or dependant.query_params or dependant.header_params:
        shared.add(422)
    declared = {k: v for k, v in (route.responses or {}).items() if k != status}
    return {status: success, **errors(*sorted(shared - set(declared))), **declared}


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
        if any(p.get("loc", ("",))[0] == "response" for p in problems):
            # powertools reports a handler's answer that breaks its return annotation as a request error:
            # it is our bug, not the caller's, and the caller must not be told to fix their request.
            logger.error("a response breaks its documented schema", problems=describe(problems))
            return error_response(500, "internal_error", "something went wrong on our side; it has been logged")
        if any(p.get("type") == "json_invalid" for p in problems):
            return error_response(400, "bad_request", "The request body is not valid JSON.")
        return domain_error_response(invalid(from_validation(problems)))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(404, "not_found", f"no route {app.current_event.http_method} {app.current_event.path}")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    return app


def describe(problems: list[dict[str, Any]]) -> str:
    """Pydantic's error list as one line for the logs (a developer's reader): `body.email: field required; ...`."""
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
