"""The REST API (v1) of the translated template, served locally as API Gateway would serve it.

Routes, integrations and per-method authorizers come from the RestApi's swagger `Body` that SAM
generated; responses API Gateway makes itself (unknown route, 401/403 from the authorizer, function
errors, oversized bodies) are rendered from the template's `GatewayResponses`, so they carry the same
JSON error shape locally as in AWS. The token authorizer is invoked on every request (no cache), with
API Gateway's decisions: no token or "Unauthorized" -> 401, a policy that does not allow the method
ARN -> 403, otherwise its `context` reaches the handler in `requestContext.authorizer`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
ANY_METHOD = "x-amazon-apigateway-any-method"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}

# Default status of each gateway response type, and the family (DEFAULT_4XX/5XX) it falls back to.
DEFAULT_STATUS = {
    "UNAUTHORIZED": 401,
    "ACCESS_DENIED": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "AUTHORIZER_FAILURE": 500,
    "AUTHORIZER_CONFIGURATION_ERROR": 500,
    "REQUEST_TOO_LARGE": 413,
    "THROTTLED": 429,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "DEFAULT_4XX": 400,
    "DEFAULT_5XX": 502,  # a failed Lambda proxy integration answers 502 Bad Gateway
}
ERROR_TYPES = {
    "UNAUTHORIZED": "UnauthorizedException",
    "ACCESS_DENIED": "AccessDeniedException",
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "AUTHORIZER_FAILURE": "AuthorizerFailureException",
    "AUTHORIZER_CONFIGURATION_ERROR": "AuthorizerConfigurationException",
    "REQUEST_TOO_LARGE": "RequestTooLargeException",
    "DEFAULT_5XX": "InternalServerErrorException",
}
_CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_.]+)")


class Invoker(Protocol):
    """What the API needs of the worker pool (a fake in unit tests)."""

    def invoke(self, function: str, event: Any) -> Any: ...


@dataclass(frozen=True)
class Route:
    resource: str  # the resource template, e.g. "/api/tasks/{id}"
    method: str  # upper-case, or "ANY"
    function: str | None  # logical id of the integration's function (None: not a Lambda proxy)
    authorizer: str | None = None  # name of the authorizer guarding it, if any

    @property
    def segments(self) -> list[str]:
        return [s for s in self.resource.split("/") if s]


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: str | None
    header: str = "Authorization"
    kind: str = "token"
    validation: str | None = None


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None = None
    template: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str  # decoded, e.g. "/api/tasks/1"
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return values[-1] if values else None


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class RestApi:
    def __init__(
        self,
        routes: list[Route],
        authorizers: dict[str, Authorizer],
        responses: dict[str, GatewayResponse],
        *,
        api_id: str = "devstack",
        stage: str = "local",
        region: str = "us-east-1",
        account_id: str = "123456789012",
    ) -> None:
        self.routes = routes
        self.authorizers = authorizers
        self.responses = responses
        self.api_id = api_id
        self.stage = stage
        self.region = region
        self.account_id = account_id

    @property
    def functions(self) -> set[str]:
        """The logical ids of the functions a request through this API may invoke (integrations, authorizers)."""
        invoked = {route.function for route in self.routes} | {a.function for a in self.authorizers.values()}
        return {function for function in invoked if function is not None}

    # -- built from the template --------------------------------------------------------------------
    @classmethod
    def from_provisioned(cls, provisioned: Any) -> tuple[list[RestApi], list[str]]:
        """One RestApi per `AWS::ApiGateway::RestApi` with a swagger Body; notes on what cannot run."""
        apis, notes = [], []
        stages = {
            props.get("RestApiId"): props.get("StageName")
            for props in (provisioned.properties(s) for s in provisioned.active("AWS::ApiGateway::Stage"))
        }
        for logical_id in provisioned.active("AWS::ApiGateway::RestApi"):
            body = provisioned.properties(logical_id).get("Body")
            if not isinstance(body, dict):
                notes.append(f"{logical_id}: no inline swagger Body (DefinitionUri is not supported locally)")
                continue
            api_id = provisioned.resolver.ref(logical_id)
            api = cls.from_swagger(
                body,
                provisioned.function_id,
                api_id=api_id,
                stage=stages.get(api_id) or "local",
                region=provisioned.stack.region,
                account_id=provisioned.stack.account_id,
            )
            notes.extend(
                f"{logical_id} {r.method} {r.resource}: not a Lambda proxy integration, answers 500"
                for r in api.routes
                if r.function is None
            )
            apis.append(api)
        return apis, notes

    @classmethod
    def from_swagger(cls, body: dict[str, Any], function_id: Any, **identity: Any) -> RestApi:
        """Routes, authorizers and gateway responses of a resolved swagger 2 / OpenAPI 3 document."""
        schemes = body.get("securityDefinitions") or (body.get("components") or {}).get("securitySchemes") or {}
        authorizers = {}
        for name, scheme in schemes.items():
            spec = scheme.get("x-amazon-apigateway-authorizer")
            if not spec:
                continue
            authorizers[name] = Authorizer(
                name=name,
                function=_function_of(spec.get("authorizerUri"), function_id),
                header=scheme.get("name", "Authorization"),
                kind=str(spec.get("type", "token")).lower(),
                validation=spec.get("identityValidationExpression"),
            )
        default_security = body.get("security")
        routes = []
        for resource, methods in (body.get("paths") or {}).items():
            for method, operation in methods.items():
                if method not in HTTP_METHODS and method != ANY_METHOD:
                    continue
                integration = operation.get("x-amazon-apigateway-integration") or {}
                function = (
                    _function_of(integration.get("uri"), function_id)
                    if integration.get("type", "").lower() == "aws_proxy"
                    else None
                )
                security = operation.get("security", default_security) or []
                guards = [name for requirement in security for name in requirement if name in authorizers]
                routes.append(
                    Route(
                        resource=resource,
                        method="ANY" if method == ANY_METHOD else method.upper(),
                        function=function,
                        authorizer=guards[0] if guards else None,
                    )
                )
        responses = {
            kind: GatewayResponse(
                status=int(spec["statusCode"]) if spec.get("statusCode") else None,
                template=(spec.get("responseTemplates") or {}).get("application/json"),
                headers={
                    key.removeprefix("gatewayresponse.header."): str(value).strip("'")
                    for key, value in (spec.get("responseParameters") or {}).items()
                    if key.startswith("gatewayresponse.header.")
                },
            )
            for kind, spec in (body.get("x-amazon-apigateway-gateway-responses") or {}).items()
        }
        return cls(routes, authorizers, responses, **identity)

    # -- routing ------------------------------------------------------------------------------------
    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The most specific route for `method` `path` (literal > {param} > {proxy+}), with its params."""
        segments = [s for s in path.split("/") if s]
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            found = _match_segments(route.segments, segments)
            if found is None:
                continue
            rank = (*found[0], 1 if route.method == "ANY" else 0)
            if best is None or rank < best[0]:
                best = (rank, route, found[1])
        return (best[1], best[2]) if best else None

    # -- handling -----------------------------------------------------------------------------------
    def handle(self, request: Request, invoker: Invoker) -> Response:
        request_id = str(uuid.uuid4())
        if len(request.body) > MAX_BODY_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", "Request Too Long", request_id)
        found = self.match(request.method, request.path)
        if found is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token", request_id)
        route, parameters = found
        authorizer_context: dict[str, Any] | None = None
        if route.authorizer is not None:
            outcome = self.authorize(self.authorizers[route.authorizer], request, invoker, request_id)
            if isinstance(outcome, Response):
                return outcome
            authorizer_context = outcome
        if route.function is None:
            return self.gateway_response("DEFAULT_5XX", "Internal server error", request_id, status=500)
        event = self.proxy_event(request, route, parameters, authorizer_context, request_id)
        invocation = invoker.invoke(route.function, event)
        if not invocation.ok:
            return self.gateway_response("DEFAULT_5XX", "Internal server error", request_id)
        return self.proxy_response(invocation.payload, request_id)

    def method_arn(self, request: Request) -> str:
        return (
            f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/"
            f"{request.method}/{request.path.lstrip('/')}"
        )

    def authorize(
        self, authorizer: Authorizer, request: Request, invoker: Invoker, request_id: str
    ) -> dict[str, Any] | Response:
        """The authorizer context to pass on, or the gateway's refusal."""
        if authorizer.kind != "token" or authorizer.function is None:
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", None, request_id)
        token = request.header(authorizer.header)
        if not token or (authorizer.validation and not re.fullmatch(authorizer.validation, token)):
            return self.gateway_response("UNAUTHORIZED", "Unauthorized", request_id)
        method_arn = self.method_arn(request)
        started = time.monotonic()
        invocation = invoker.invoke(
            authorizer.function, {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        )
        if not invocation.ok:
            if invocation.error_message == "Unauthorized":
                return self.gateway_response("UNAUTHORIZED", "Unauthorized", request_id)
            return self.gateway_response("AUTHORIZER_FAILURE", None, request_id)
        result = invocation.payload
        if not isinstance(result, dict) or not result.get("principalId") or "policyDocument" not in result:
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", None, request_id)
        decision = evaluate_policy(result["policyDocument"], method_arn)
        if decision == "Deny":
            message = "User is not authorized to access this resource with an explicit deny"
            return self.gateway_response("ACCESS_DENIED", message, request_id)
        if decision != "Allow":
            return self.gateway_response("ACCESS_DENIED", "User is not authorized to access this resource", request_id)
        context = result.get("context") or {}
        if not isinstance(context, dict) or any(isinstance(v, dict | list) for v in context.values()):
            return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", None, request_id)
        passed = {key: _context_text(value) for key, value in context.items() if value is not None}
        passed["principalId"] = str(result["principalId"])
        passed["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return passed

    def proxy_event(
        self,
        request: Request,
        route: Route,
        parameters: dict[str, str],
        authorizer: dict[str, Any] | None,
        request_id: str,
    ) -> dict[str, Any]:
        """The Lambda proxy integration (REST, payload 1.0) event."""
        headers = [*request.headers, ("X-Forwarded-For", request.source_ip), ("X-Forwarded-Proto", "http")]
        if not any(key.lower() == "x-amzn-trace-id" for key, _ in headers):
            headers.append(("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"))
        multi_headers: dict[str, list[str]] = {}
        for key, value in headers:
            multi_headers.setdefault(key, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for key, value in request.query:
            multi_query.setdefault(key, []).append(value)
        now = dt.datetime.now(dt.UTC)
        body, is_base64 = _event_body(request.body)
        context: dict[str, Any] = {
            "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
            "resourcePath": route.resource,
            "httpMethod": request.method,
            "extendedRequestId": base64.b64encode(uuid.uuid4().bytes[:12]).decode(),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{self.stage}{request.path}",
            "accountId": self.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage,
            "domainPrefix": request.host.split(".")[0],
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.header("User-Agent"),
                "user": None,
            },
            "domainName": request.host,
            "apiId": self.api_id,
        }
        if authorizer is not None:
            context["authorizer"] = authorizer
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {key: values[-1] for key, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_base64,
        }

    def proxy_response(self, result: Any, request_id: str) -> Response:
        """The HTTP response for a Lambda proxy result; a malformed one is a 502, as in AWS."""
        try:
            status = int(result["statusCode"])
            headers: list[tuple[str, str]] = []
            for key, values in (result.get("multiValueHeaders") or {}).items():
                headers.extend((key, str(v)) for v in values)
            single = {k: str(v) for k, v in (result.get("headers") or {}).items()}
            headers.extend((k, v) for k, v in single.items() if k.lower() not in {h.lower() for h, _ in headers})
            raw = result.get("body")
            body = b"" if raw is None else base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        except (TypeError, KeyError, ValueError, AttributeError):
            return self.gateway_response("DEFAULT_5XX", "Internal server error", request_id)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.append(("x-amzn-RequestId", request_id))
        return Response(status, headers, body)

    def gateway_response(self, kind: str, message: str | None, request_id: str, status: int | None = None) -> Response:
        """API Gateway's own answer of type `kind`, from the template's GatewayResponses."""
        family = "DEFAULT_5XX" if DEFAULT_STATUS.get(kind, 500) >= 500 else "DEFAULT_4XX"
        specific = self.responses.get(kind, GatewayResponse())
        fallback = self.responses.get(family, GatewayResponse())
        template = specific.template or fallback.template or '{"message":$context.error.messageString}'
        values = {
            "error.messageString": json.dumps(message),
            "error.message": message or "",
            "error.responseType": kind,
            "error.validationErrorString": json.dumps(message),
            "requestId": request_id,
            "stage": self.stage,
            "apiId": self.api_id,
        }
        body = _CONTEXT_VARIABLE.sub(lambda m: values.get(m.group(1), ""), template).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
        headers.append(("x-amzn-ErrorType", ERROR_TYPES.get(kind, ERROR_TYPES["DEFAULT_5XX"])))
        headers.extend({**fallback.headers, **specific.headers}.items())
        return Response(status or specific.status or DEFAULT_STATUS.get(kind, 500), headers, body)


def evaluate_policy(document: Any, method_arn: str) -> str | None:
    """ "Deny" if any statement denies the method ARN, else "Allow" if one allows it, else None."""
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    decision = None
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        if not any(a in ("execute-api:Invoke", "execute-api:*", "*") for a in actions):
            continue
        if not any(_arn_matches(str(pattern), method_arn) for pattern in _as_list(statement.get("Resource"))):
            continue
        if statement.get("Effect") == "Deny":
            return "Deny"
        if statement.get("Effect") == "Allow":
            decision = "Allow"
    return decision


def _arn_matches(pattern: str, arn: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, arn) is not None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _context_text(value: Any) -> str:
    """API Gateway passes authorizer context values to proxy integrations as strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _event_body(raw: bytes) -> tuple[str | None, bool]:
    if not raw:
        return None, False
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode(), True


def _function_of(uri: Any, function_id: Any) -> str | None:
    """The logical id of the function an integration or authorizer URI invokes."""
    if not isinstance(uri, str) or "/functions/" not in uri:
        return None
    arn = uri.split("/functions/", 1)[1].removesuffix("/invocations")
    return function_id(arn)


def _match_segments(template: list[str], path: list[str]) -> tuple[list[int], dict[str, str]] | None:
    """Per-segment specificity (0 literal, 1 param, 2 greedy) and the path parameters, or None."""
    rank: list[int] = []
    parameters: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            if index >= len(path):
                return None
            parameters[part[1:-2]] = "/".join(path[index:])
            return [*rank, 2], parameters
        if index >= len(path):
            return None
        if part.startswith("{") and part.endswith("}"):
            parameters[part[1:-1]] = path[index]
            rank.append(1)
        elif part == path[index]:
            rank.append(0)
        else:
            return None
    if len(path) != len(template):
        return None
    return rank, parameters
