"""Each context publishes its OpenAPI document (SPEC §11), generated from its resolver into
schemas/openapi/ (kept fresh by schemas/generate.py --check), and the template routes exactly those
paths to the functions: a route in the code but not in the template (or the reverse) fails here."""

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


def template_routes() -> set[tuple[str, str]]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)
    routes = set()
    for resource in template["Resources"].values():
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event["Type"] == "Api":
                path = event["Properties"]["Path"].removeprefix("/api")
                routes.add((event["Properties"]["Method"].upper(), shape(path)))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    routes = set()
    for document in (ROOT / "schemas" / "openapi").glob("*.json"):
        spec = json.loads(document.read_text())
        assert spec["servers"] == [{"url": "/api"}]
        for path, operations in spec["paths"].items():
            routes |= {(method.upper(), shape(path)) for method in operations}
    return routes


def test_every_routed_path_is_documented_and_every_documented_path_is_routed():
    assert template_routes() == documented_routes()


def test_each_context_publishes_a_document_with_its_request_models():
    auth = json.loads((ROOT / "schemas" / "openapi" / "auth.json").read_text())
    login = auth["paths"]["/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login["$ref"].endswith("LoginRequest")
    assert {"staff.json", "tasks.json", "auth.json"} <= {p.name for p in (ROOT / "schemas" / "openapi").iterdir()}
