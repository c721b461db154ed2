"""Each context publishes its OpenAPI document (SPEC §11), generated from its resolver into
schemas/openapi/ (kept fresh by schemas/generate.py --check), and the template routes exactly those
paths to the functions: a route in the code but not in the template (or the reverse) fails here. The
routes the gateway lets through without a token are exactly the ones the documents call public. Every
operation lists its real responses: one success with its typed body, and every error status the shared
layer or the route answers, all in the one error shape (schemathesis holds the API to them: tests/security)."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


class CfnLoader(yaml.SafeLoader):
    pass


CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def template_routes(*, tokenless: bool = False) -> set[tuple[str, str]]:
    """(METHOD, path) of every API event; with `tokenless`, only those without the token authorizer."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    routes = set()
    for resource in template["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event["Type"] != "Api":
                continue
            if tokenless and (event["Properties"].get("Auth") or {}).get("Authorizer") != "NONE":
                continue
            path = event["Properties"]["Path"].removeprefix("/api")
            routes.add((event["Properties"]["Method"].upper(), shape(path)))
    return routes


def documented_routes(*, public: bool = False) -> set[tuple[str, str]]:
    """(METHOD, path) of every documented operation; with `public`, only those that need no token."""
    routes = set()
    for document in (ROOT / "schemas" / "openapi").glob("*.json"):
        spec = json.loads(document.read_text())
        assert spec["servers"] == [{"url": "/api"}]
        for path, operations in spec["paths"].items():
            routes |= {
                (method.upper(), shape(path))
                for method, operation in operations.items()
                if not public or operation.get("security") == []
            }
    return routes


def test_every_routed_path_is_documented_and_every_documented_path_is_routed():
    assert template_routes() == documented_routes()


def test_the_gateway_lets_through_without_a_token_exactly_the_public_operations():
    """The gateway enforces the token, not the documents: an `Authorizer: NONE` the documents do not call
    public would open a route to anonymous callers whatever its handler declares."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    assert template["Resources"]["Api"]["Properties"]["Auth"]["DefaultAuthorizer"] == "TokenAuthorizer"
    assert template_routes(tokenless=True) == documented_routes(public=True)
    assert documented_routes(public=True) == {
        ("POST", "/auth/login"), ("GET", "/auth/.well-known/jwks.json"), ("POST", "/auth/password"),
    }  # fmt: skip


def test_each_context_publishes_a_document_with_its_request_models():
    auth = json.loads((ROOT / "schemas" / "openapi" / "auth.json").read_text())
    login = auth["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login["$ref"].endswith("LoginRequest")
    assert {"staff.json", "tasks.json", "auth.json"} <= {p.name for p in (ROOT / "schemas" / "openapi").iterdir()}


ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorResponse"}
BODY_ERRORS = {"400", "413", "415", "422"}  # the gate's and the validator's answers to a body


def operations() -> list:
    found = []
    for document in sorted((ROOT / "schemas" / "openapi").glob("*.json")):
        spec = json.loads(document.read_text())
        for path, item in spec["paths"].items():
            found += [pytest.param(spec, op, id=f"{method.upper()} {path}") for method, op in item.items()]
    return found


def test_the_documents_share_one_error_shape_and_none_of_powertools_defaults():
    for document in (ROOT / "schemas" / "openapi").glob("*.json"):
        schemas = json.loads(document.read_text())["components"]["schemas"]
        assert {"HTTPValidationError", "ValidationError", "ResponseValidationError"}.isdisjoint(schemas), document
        assert schemas["ErrorResponse"]["required"] == ["error"]
        assert schemas["ErrorResponse"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorDetail"}
        detail = schemas["ErrorDetail"]
        assert detail["required"] == ["code", "message"]
        assert {detail["properties"][k]["type"] for k in ("code", "message")} == {"string"}


@pytest.mark.parametrize(("document", "operation"), operations())
def test_every_operation_documents_its_success_body_and_its_errors_in_the_error_shape(document, operation):
    responses = operation["responses"]
    successes = [status for status in responses if status.startswith("2")]
    assert len(successes) == 1, successes
    body = responses[successes[0]].get("content", {}).get("application/json", {}).get("schema")
    if successes[0] == "204":
        assert body is None
    else:  # a named model, not powertools' `object` with any properties
        assert body and body.get("$ref", "").startswith("#/components/schemas/"), body
    failures = {status: r for status, r in responses.items() if int(status) >= 400}
    for status, response in failures.items():
        assert response["content"] == {"application/json": {"schema": ERROR_SCHEMA}}, status
        assert response["description"], status
    if operation.get("security", document.get("security")) != []:
        assert "401" in failures  # no valid token: the gateway's answer, and the gate's
    if operation.get("x-roles"):
        assert "403" in failures
    if "requestBody" in operation:
        assert set(failures) >= BODY_ERRORS
    if "requestBody" in operation or operation.get("parameters"):
        assert "422" in failures
    assert "429" in failures  # the gateway throttles every route


def test_the_success_statuses_are_those_of_spec_11():
    statuses = {}
    for document in (ROOT / "schemas" / "openapi").glob("*.json"):
        for path, item in json.loads(document.read_text())["paths"].items():
            for method, operation in item.items():
                statuses[(method.upper(), path)] = next(s for s in operation["responses"] if s.startswith("2"))
    assert {route: status for route, status in statuses.items() if status != "200"} == {
        ("POST", "/staff/employees"): "201", ("POST", "/staff/departments"): "201", ("POST", "/tasks"): "201",
        ("DELETE", "/staff/departments/{department_id}"): "204", ("POST", "/tasks/shuffle"): "202",
        ("POST", "/accounting/days/{day}/close"): "202", ("POST", "/auth/accounts/{account_id}/invitation"): "202",
        ("POST", "/analytics/metrics"): "201", ("DELETE", "/analytics/metrics/{metric_id}"): "204",
    }  # fmt: skip
