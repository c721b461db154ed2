"""Each context publishes its OpenAPI document (SPEC §11), generated from its resolver into
schemas/openapi/ (kept fresh by schemas/generate.py --check), and the template routes exactly those
paths to the functions: a route in the code but not in the template (or the reverse) fails here. The
routes the gateway lets through without a token are exactly the ones the documents call public."""

import json
import re
from pathlib import Path

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
