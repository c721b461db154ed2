"""What a handler's cold start does not import (issue 14 point 4: every handler imports in at most 2.0x a bare
`import boto3`; the figures are bench/import_time.py's and bench/cold_start.py's).

Each handler module is imported in a fresh interpreter on its own package, layers and locked dependencies, as
Lambda lays them out and devstack runs them (`python -S`, devstack.sites), with the template's literal
variables and none of Lambda's (tracing off), and what it left in `sys.modules` is compared with what it
must not have imported yet. A module named here is imported where it is first needed, which the test does
not forbid: a handler's first invocation may well import it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from devstack import sites
from tests.contract.packages import functions, import_path

# Never imported with any handler module, and why.
NO_HANDLER_IMPORTS = {
    # shared.aws builds each client, and so imports boto3, on first use: importing boto3 is the target's unit
    "boto3": "boto3 is imported with the first client (shared.aws), not at import",
    "aws_xray_sdk.core": "the X-Ray SDK is imported only where the Tracer traces (shared.observability)",
    "duckdb": "DuckDB opens with the first local lake query (analytics.query)",
    "sqlglot": "sqlglot is imported with the first SQL it parses (analytics.console_sql, analytics.query)",
}
# Never imported with these handler modules, and why.
HANDLER_DOES_NOT_IMPORT = {
    "auth.authorizer": {
        "pydantic": "the authorizer reads accounts and touches no event model (auth.store, shared.events.outbox)",
        "shared.contracts": "the authorizer reads accounts and touches no event model",
    },
    "auth.api": {
        "jwt": "signing is KMS's: PyJWT is imported where a token is verified or a key published (auth.tokens)",
        "cryptography": "imported where a key is published (auth.tokens)",
    },
}
PROBE = "import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"}  # no LAMBDA_TASK_ROOT: as devstack


def imported_by_each_handler(scratch: Path) -> dict[str, set[str]]:
    """Handler module -> every module its import left in `sys.modules` (one interpreter each, two at a time)."""
    by_module = {f.module: f for f in functions()}

    def probe(module: str) -> tuple[str, set[str]]:
        function = by_module[module]
        path = [*import_path(function), *map(str, sites.sites(function.directories, scratch))]
        out = subprocess.run(
            [sys.executable, "-S", "-c", PROBE.format(module=module)],
            cwd=path[0],
            capture_output=True,
            text=True,
            check=True,
            env={**ENVIRONMENT, **dict(function.literal_environment), "PYTHONPATH": os.pathsep.join(path)},
        )
        return module, set(json.loads(out.stdout.strip().splitlines()[-1]))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(probe, sorted(by_module)))


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> dict[str, set[str]]:
    return imported_by_each_handler(tmp_path_factory.mktemp("cold-import-sites"))


def test_no_handler_imports_boto3_the_xray_sdk_or_the_lake_engine_when_it_is_imported(imported):
    found = {
        f"{handler}: {name} ({why})"
        for handler, modules in imported.items()
        for name, why in NO_HANDLER_IMPORTS.items()
        if name in modules
    }
    assert not found, "\n".join(sorted(found))


def test_the_authorizer_and_the_auth_api_import_only_what_every_call_of_theirs_needs(imported):
    found = {
        f"{handler}: {name} ({why})"
        for handler, forbidden in HANDLER_DOES_NOT_IMPORT.items()
        for name, why in forbidden.items()
        if name in imported[handler]
    }
    assert not found, "\n".join(sorted(found))


def test_the_probe_sees_what_a_handler_imports(imported):
    """The check can fail: every handler's import shows its own module, and the API handlers their resolver."""
    assert all(handler in modules for handler, modules in imported.items())
    assert "aws_lambda_powertools.event_handler.api_gateway" in imported["auth.api"]
    assert "pydantic" in imported["auth.api"]
