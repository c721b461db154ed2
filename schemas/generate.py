"""Export the event contracts (functions/shared/contracts) as JSON Schemas and as the template's
EventBridge schema registry entries, and each context's HTTP API as its OpenAPI document
(`schemas/openapi/<context>.json`, from the resolver's own routes and models), so the code, `schemas/`
and `template.yaml` never disagree.

    python schemas/generate.py          # write schemas/ and the generated block of template.yaml
    python schemas/generate.py --check  # exit 1 if anything is stale (a test runs this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))

from shared.contracts import REGISTRY, Contract  # noqa: E402
from shared.contracts.envelope import Envelope  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
API_MODULES = {"auth": "auth.api", "staff": "staff.api", "tasks": "tasks.api", "accounting": "accounting.api"}
BEGIN, END = "# BEGIN GENERATED EVENT SCHEMAS\n", "# END GENERATED EVENT SCHEMAS\n"


def schema_of(contract: Contract) -> dict:
    """The whole envelope with `data` typed by the contract, in JSON Schema draft 4 (what EventBridge's
    registry accepts): `definitions` instead of `$defs`, no `const`."""
    data = contract.model.model_json_schema(ref_template="#/definitions/{model}")
    definitions = data.pop("$defs", {})
    envelope = Envelope.model_json_schema()
    envelope["properties"]["data"] = data
    envelope["properties"]["event_name"] = {"type": "string", "enum": [contract.name]}
    envelope["properties"]["event_version"] = {"type": "integer", "enum": [contract.version]}
    envelope["properties"]["producer"] = {"type": "string", "enum": [contract.source]}
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": f"{contract.source}.{contract.name}.v{contract.version}",
        **{k: v for k, v in envelope.items() if k != "title"},
    }
    if definitions:
        schema["definitions"] = definitions
    return schema


def schema_path(contract: Contract) -> Path:
    return ROOT / "schemas" / contract.source / contract.name / f"v{contract.version}.json"


def render_json(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def logical_id(contract: Contract) -> str:
    return f"EventSchema{contract.name}V{contract.version}"


def template_block() -> str:
    lines = [BEGIN]
    for contract in REGISTRY.contracts:
        content = json.dumps(schema_of(contract), sort_keys=True, separators=(",", ":")).replace("'", "''")
        lines += [
            f"  {logical_id(contract)}:\n",
            "    Type: AWS::EventSchemas::Schema\n",
            "    Properties:\n",
            "      RegistryName: !GetAtt EventSchemaRegistry.RegistryName\n",
            f"      SchemaName: {contract.source}@{contract.name}.v{contract.version}\n",
            "      Type: JSONSchemaDraft4\n",
            f"      Description: {contract.name} version {contract.version}, produced by {contract.source}\n",
            f"      Content: '{content}'\n",
        ]
    lines.append(END)
    return "".join(lines)


def openapi_of(context: str) -> dict:
    """The context's OpenAPI document; every path is served under `/api` (one origin for web and API)."""
    import importlib

    app = importlib.import_module(API_MODULES[context]).app
    document = json.loads(app.get_openapi_json_schema(title=f"aTES {context} API", version="1"))
    document["servers"] = [{"url": "/api"}]
    return document


def expected_files() -> dict[Path, str]:
    files = {schema_path(c): render_json(schema_of(c)) for c in REGISTRY.contracts}
    files.update({ROOT / "schemas" / "openapi" / f"{name}.json": render_json(openapi_of(name)) for name in API_MODULES})
    template = TEMPLATE.read_text()
    head, rest = template.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    files[TEMPLATE] = head + template_block() + tail
    return files


def stale() -> list[Path]:
    return [p for p, text in expected_files().items() if not p.exists() or p.read_text() != text]


def main() -> int:
    if "--check" in sys.argv:
        out_of_date = stale()
        for path in out_of_date:
            print(f"stale: {path.relative_to(ROOT)} (run: python schemas/generate.py)")
        return 1 if out_of_date else 0
    for path, text in expected_files().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
