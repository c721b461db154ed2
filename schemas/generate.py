"""Export the event contracts (functions/shared/contracts) as JSON Schemas and as the template's
EventBridge schema registry entries, the analytics tables (functions/analytics/tables.py, typed from the
same contracts) as the template's Glue tables, and each context's HTTP API as its OpenAPI document
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

from analytics import tables  # noqa: E402
from shared.contracts import REGISTRY, Contract  # noqa: E402
from shared.contracts.envelope import Envelope  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
API_MODULES = {
    "auth": "auth.api", "staff": "staff.api", "tasks": "tasks.api", "accounting": "accounting.api",
    "analytics": "analytics.api", "ops": "shared.ops.api",
}  # fmt: skip
BEGIN, END = "# BEGIN GENERATED EVENT SCHEMAS\n", "# END GENERATED EVENT SCHEMAS\n"
GLUE_BEGIN, GLUE_END = "  # BEGIN GENERATED ANALYTICS TABLES\n", "  # END GENERATED ANALYTICS TABLES\n"
FORMATS = {
    "json": {
        "classification": "json",
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe",
    },
    "parquet": {
        "classification": "parquet",
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    },
}


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


def glue_logical_id(table: tables.PhysicalTable) -> str:
    return "AnalyticsTable" + "".join(part.capitalize() for part in table.name.split("_"))


def glue_table(table: tables.PhysicalTable) -> list[str]:
    """One AWS::Glue::Table: partitioned by `day` (or `month`, a roll-up), partitions projected (no crawler,
    nothing to register) over the horizon the lake keeps (R-AN-5)."""
    fmt, q = FORMATS[table.format], json.dumps
    key = table.partition
    form, unit = ("yyyy-MM", "MONTHS") if key == tables.MONTH else ("yyyy-MM-dd", "DAYS")
    location = f"s3://${{AnalyticsLakeBucket}}/{table.prefix}"
    lines = [
        f"  {glue_logical_id(table)}:\n",
        "    Type: AWS::Glue::Table\n",
        "    Properties:\n",
        "      CatalogId: !Ref AWS::AccountId\n",
        "      DatabaseName: !Ref AnalyticsDatabase\n",
        "      TableInput:\n",
        f"        Name: {table.name}\n",
        f"        Description: {q(table.description)}\n",
        "        TableType: EXTERNAL_TABLE\n",
        "        Parameters:\n",
        f"          classification: {fmt['classification']}\n",
        '          EXTERNAL: "TRUE"\n',
        '          projection.enabled: "true"\n',
        f"          projection.{key}.type: date\n",
        f"          projection.{key}.format: {form}\n",
        f"          projection.{key}.range: !Sub NOW-${{AnalyticsHorizonDays}}DAYS,NOW\n",
        f'          projection.{key}.interval: "1"\n',
        f"          projection.{key}.interval.unit: {unit}\n",
        f"          storage.location.template: !Sub {location}{key}=${{!{key}}}/\n",
        "        PartitionKeys:\n",
        f"          - {{ Name: {key}, Type: string }}\n",
        "        StorageDescriptor:\n",
        f"          Location: !Sub {location}\n",
        f"          InputFormat: {fmt['InputFormat']}\n",
        f"          OutputFormat: {fmt['OutputFormat']}\n",
        "          SerdeInfo:\n",
        f"            SerializationLibrary: {fmt['SerializationLibrary']}\n",
        "          Columns:\n",
    ]
    lines += [f"            - {{ Name: {c.name}, Type: {q(c.type)} }}\n" for c in table.columns]
    return lines


def glue_block() -> str:
    lines = [GLUE_BEGIN]
    for table in (*tables.RAW_TABLES, *tables.CURATED_TABLES, *tables.MONTHLY_TABLES):
        lines += [*glue_table(table), "\n"]
    lines.append(GLUE_END)
    return "".join(lines)


def openapi_of(context: str) -> dict:
    """The context's OpenAPI document; every path is served under `/api` (one origin for web and API)."""
    import importlib

    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    from shared.http import TOKEN_SCHEME

    app = importlib.import_module(API_MODULES[context]).app
    # Every operation needs the bearer token unless it says `security: []` (shared.http.public).
    token = HTTPBearer(scheme="bearer", bearerFormat="JWT", description="an access token from POST /auth/login")
    document = json.loads(app.get_openapi_json_schema(
        title=f"aTES {context} API", version="1", security_schemes={TOKEN_SCHEME: token}, security=[{TOKEN_SCHEME: []}]
    ))  # fmt: skip
    document["servers"] = [{"url": "/api"}]
    return document


def replace_block(text: str, begin: str, end: str, block: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + block + tail


def expected_files() -> dict[Path, str]:
    files = {schema_path(c): render_json(schema_of(c)) for c in REGISTRY.contracts}
    files.update({ROOT / "schemas" / "openapi" / f"{name}.json": render_json(openapi_of(name)) for name in API_MODULES})
    template = replace_block(TEMPLATE.read_text(), BEGIN, END, template_block())
    files[TEMPLATE] = replace_block(template, GLUE_BEGIN, GLUE_END, glue_block())
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
