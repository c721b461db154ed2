"""devstack's local API Gateway: routes from the translated RestApi, REST proxy (v1) events, the token
authorizer's decisions, GatewayResponses, the static web front and the /_devstack pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werkzeug.test import Client

from devstack import apigw, edge, template
from devstack.console import Console
from devstack.gateway import Gateway
from devstack.intrinsics import Resolver
from devstack.provision import Provisioned
from devstack.workers import Invocation

ROOT = Path(__file__).resolve().parents[2]
ALLOW_CONTEXT = {"sub": "emp-1", "roles": "admin,worker", "department_id": "", "active": True, "n": 3}


class FakePool:
    """Records invocations; the authorizer and the API function answer as the real ones would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.authorizer: object = "allow"
        self.api: object = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    def invoke(self, function: str, event: dict) -> Invocation:
        self.calls.append((function, event))
        if function == "AuthorizerFunction":
            if self.authorizer in ("Unauthorized", "crash"):
                message = "Unauthorized" if self.authorizer == "Unauthorized" else "KeyError: 'x'"
                return Invocation("r", ok=False, error={"errorType": "Exception", "errorMessage": message})
            effect = "Allow" if self.authorizer == "allow" else "Deny"
            resource = event["methodArn"] if self.authorizer != "allow-elsewhere" else "arn:aws:execute-api:*:*:x/*"
            if self.authorizer == "allow-elsewhere":
                effect = "Allow"
            return Invocation(
                "r",
                ok=True,
                payload={
                    "principalId": "emp-1",
                    "policyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
                    },
                    "context": ALLOW_CONTEXT,
                },
            )
        if self.api == "crash":
            return Invocation("r", ok=False, error={"errorType": "ValueError", "errorMessage": "boom"})
        return Invocation("r", ok=True, payload=self.api)

    def event(self) -> dict:
        return next(event for function, event in reversed(self.calls) if function != "AuthorizerFunction")


@pytest.fixture(scope="module")
def stack() -> template.Stack:
    return template.load(ROOT / "template.yaml", {"Stage": "local"})


@pytest.fixture(scope="module")
def api(stack) -> apigw.RestApi:
    provisioned = Provisioned(stack=stack, endpoint_url="", resolver=None)  # type: ignore[arg-type]
    provisioned.resolver = Resolver(
        stack,
        ref=lambda name: "abc123" if name == "Api" else f"ates-local-{name}",
        get_att=lambda name, attr: f"arn:aws:lambda:us-east-1:123456789012:function:ates-local-{name}",
    )
    apis, notes = apigw.RestApi.from_provisioned(provisioned)
    assert len(apis) == 1 and notes == []
    return apis[0]


@pytest.fixture()
def pool() -> FakePool:
    return FakePool()


@pytest.fixture()
def client(api, pool, stack, tmp_path) -> Client:
    web = tmp_path / "web"
    (web / "pages").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>aTES</title>")
    (web / "app.js").write_text("export const x = 1;")
    (web / "pages" / "tasks.js").write_text("export default 1;")
    (web / "styles.css").write_text("body{}")
    gateway = Gateway(web, Console(tmp_path / "logs", quiet=True))
    gateway.apis, gateway.invoker = [api], pool
    gateway.edge_headers = edge.security_headers(stack)  # as devstack's `up` does
    return Client(gateway)


def test_routes_come_from_the_translated_swagger(api):
    routes = {(r.method, r.resource): r for r in api.routes}
    assert routes[("POST", "/api/auth/login")].authorizer is None
    assert routes[("GET", "/api/auth/me")].authorizer == "TokenAuthorizer"
    assert routes[("GET", "/api/auth/me")].function == "AuthApiFunction"
    assert api.authorizers["TokenAuthorizer"].function == "AuthorizerFunction"
    assert api.authorizers["TokenAuthorizer"].header == "Authorization"
    assert api.stage == "local" or api.stage  # the template's stage


def test_routing_prefers_literals_then_params_then_greedy():
    routes = [
        apigw.Route("/api/{proxy+}", "ANY", "Any"),
        apigw.Route("/api/tasks/{id}", "GET", "One"),
        apigw.Route("/api/tasks/shuffle", "GET", "Shuffle"),
    ]
    api = apigw.RestApi(routes, {}, {})
    assert api.match("GET", "/api/tasks/shuffle")[0].function == "Shuffle"
    assert api.match("GET", "/api/tasks/42") == (routes[1], {"id": "42"})
    assert api.match("POST", "/api/tasks/42") == (routes[0], {"proxy": "tasks/42"})
    assert api.match("GET", "/other") is None


def test_an_authorized_request_becomes_a_rest_proxy_event(client, pool):
    response = client.get("/api/auth/me?limit=5&tag=a&tag=b", headers={"Authorization": "Bearer t0k"})
    assert response.status_code == 200 and response.json == {"ok": True}
    authorizer_call = pool.calls[0]
    assert authorizer_call[0] == "AuthorizerFunction"
    assert authorizer_call[1] == {
        "type": "TOKEN",
        "authorizationToken": "Bearer t0k",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/local/GET/api/auth/me",
    }
    event = pool.event()
    assert pool.calls[-1][0] == "AuthApiFunction"
    assert event["resource"] == "/api/auth/me" and event["path"] == "/api/auth/me"
    assert event["httpMethod"] == "GET"
    assert event["headers"]["Authorization"] == "Bearer t0k"
    assert event["multiValueHeaders"]["Authorization"] == ["Bearer t0k"]
    assert event["queryStringParameters"] == {"limit": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["5"], "tag": ["a", "b"]}
    assert event["pathParameters"] is None and event["stageVariables"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/api/auth/me" and context["httpMethod"] == "GET"
    assert context["path"] == "/local/api/auth/me" and context["stage"] == "local"
    assert context["identity"]["sourceIp"] == "127.0.0.1" and len(context["requestId"]) == 36
    authorizer = context["authorizer"]
    assert authorizer["principalId"] == "emp-1" and authorizer["sub"] == "emp-1"
    assert authorizer["roles"] == "admin,worker" and authorizer["department_id"] == ""
    assert authorizer["active"] == "true" and authorizer["n"] == "3"  # context values arrive as strings


def test_a_public_route_skips_the_authorizer_and_passes_the_body(client, pool):
    response = client.post("/api/auth/login", data=b'{"email": "a@b.c"}', content_type="application/json")
    assert response.status_code == 200
    assert [c[0] for c in pool.calls] == ["AuthApiFunction"]
    event = pool.event()
    assert event["body"] == '{"email": "a@b.c"}' and "authorizer" not in event["requestContext"]


def test_no_token_is_401_without_calling_the_authorizer(client, pool):
    response = client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json == {"error": {"code": "unauthorized", "message": "Unauthorized"}}
    assert pool.calls == []


@pytest.mark.parametrize(
    ("decision", "status", "code"),
    [
        ("Unauthorized", 401, "unauthorized"),
        ("deny", 403, "forbidden"),
        ("allow-elsewhere", 403, "forbidden"),
        ("crash", 500, "internal_error"),
    ],
)
def test_authorizer_decisions(client, pool, decision, status, code):
    pool.authorizer = decision
    response = client.get("/api/auth/me", headers={"Authorization": "Bearer x"})
    assert response.status_code == status and response.json["error"]["code"] == code
    assert [c[0] for c in pool.calls] == ["AuthorizerFunction"]  # the handler never runs


def test_an_unknown_route_or_method_is_the_templates_404(client, pool):
    for response in (client.get("/api/nope"), client.delete("/api/auth/me"), client.get("/api")):
        assert response.status_code == 404
        assert response.json == {"error": {"code": "not_found", "message": "no such route"}}
    assert pool.calls == []


def test_a_function_error_is_502_with_the_default_5xx_shape(client, pool):
    pool.api = "crash"
    response = client.post("/api/auth/login", json={})
    assert response.status_code == 502
    assert response.json == {"error": {"code": "internal_error", "message": "Internal server error"}}
    pool.api = {"no": "statusCode"}
    assert client.post("/api/auth/login", json={}).status_code == 502


def test_the_proxy_response_keeps_status_headers_and_base64_bodies(client, pool):
    pool.api = {
        "statusCode": 201,
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "headers": {"X-One": "1"},
        "body": "aGVsbG8=",
        "isBase64Encoded": True,
    }
    response = client.post("/api/auth/login", json={})
    assert response.status_code == 201 and response.data == b"hello"
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"] and response.headers["X-One"] == "1"
    assert response.headers["Content-Type"] == "application/json"  # API Gateway's default


def test_a_body_over_10_mb_is_413(client, pool):
    response = client.post("/api/auth/login", data=b"x" * (10 * 1024 * 1024 + 1))
    assert response.status_code == 413 and response.json["error"]["code"] == "payload_too_large"
    assert pool.calls == []


def test_the_web_shell_and_its_modules(client):
    index = client.get("/")
    assert index.status_code == 200 and b"aTES" in index.data and index.mimetype == "text/html"
    for route in ("/tasks", "/staff/employees/42"):  # client-side routes get the shell
        assert client.get(route).data == index.data
    assert client.get("/app.js").mimetype == "text/javascript"
    assert client.get("/pages/tasks.js").mimetype == "text/javascript"
    assert client.get("/styles.css").mimetype == "text/css"
    assert client.get("/missing.js").status_code == 404
    for escape in ("/../template.yaml", "/%2e%2e/template.yaml", "/..%2ftemplate.yaml"):
        assert b"Resources:" not in client.get(escape).data  # nothing outside web/


EDGE_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_r_sec_5_web_and_api_answers_carry_the_templates_security_headers(client, pool):
    pool.api = {"statusCode": 403, "headers": {"X-Frame-Options": "SAMEORIGIN"}, "body": '{"error": {}}'}
    answers = {
        "shell": client.get("/staff/employees/42"),
        "module": client.get("/app.js"),
        "missing file": client.get("/missing.js"),
        "api 403": client.get("/api/auth/me", headers={"Authorization": "Bearer t"}),
        "gateway 401": client.get("/api/auth/me"),
    }
    for name, response in answers.items():
        for header, value in EDGE_HEADERS.items():
            assert response.headers.get_all(header) == [value], (name, header)  # the edge overrides the origin
        assert response.headers["Content-Security-Policy"].endswith("; frame-ancestors 'none'"), name
    assert answers["api 403"].status_code == 403  # an API refusal stays the API's own answer, not the shell
    assert "X-Frame-Options" not in client.get("/_devstack/health", environ_base={"REMOTE_ADDR": "127.0.0.1"}).headers


def test_devstack_pages_answer_on_loopback_only(client):
    local = client.get("/_devstack/health", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert local.status_code == 503  # control pages not wired in this test: "starting"
    remote = client.get("/_devstack/health", environ_base={"REMOTE_ADDR": "10.0.0.8"})
    assert remote.status_code == 403


def test_gateway_responses_render_the_templates_shape(api):
    response = api.gateway_response("ACCESS_DENIED", 'say "no"', "req-1")
    assert response.status == 403
    assert json.loads(response.body) == {"error": {"code": "forbidden", "message": 'say "no"'}}
    fallback = apigw.RestApi([], {}, {}).gateway_response("UNAUTHORIZED", "Unauthorized", "r")
    assert fallback.status == 401 and json.loads(fallback.body) == {"message": "Unauthorized"}


def test_policy_evaluation():
    arn = "arn:aws:execute-api:us-east-1:1:api/local/GET/api/tasks"
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:api/*/GET/*"}
    assert apigw.evaluate_policy({"Statement": [statement]}, arn) == "Allow"
    deny = {**statement, "Effect": "Deny", "Resource": [arn]}
    assert apigw.evaluate_policy({"Statement": [statement, deny]}, arn) == "Deny"
    assert apigw.evaluate_policy({"Statement": [{**statement, "Resource": "arn:other"}]}, arn) is None
    assert apigw.evaluate_policy({"Statement": [{**statement, "Action": "s3:GetObject"}]}, arn) is None
