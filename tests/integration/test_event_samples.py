"""Every function in template.yaml has sample payloads in events/<LogicalId>/, and each sample runs
through the real handler on the emulator with that function's template environment."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from tests.integration.conftest import ROOT, LambdaContext, bootstrap_admin

SAMPLES = sorted((ROOT / "events").glob("*/*.json"))


def functions(provisioned) -> dict[str, str]:
    return {
        logical_id: resource["Properties"]["Handler"]
        for logical_id, resource in provisioned.stack.of_type("AWS::Lambda::Function").items()
    }


def test_every_function_has_at_least_one_sample(provisioned):
    covered = {path.parent.name for path in SAMPLES}
    assert set(functions(provisioned)) <= covered, f"no sample for {set(functions(provisioned)) - covered}"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_sample_runs_through_its_handler(provisioned, as_function, sample: Path):
    handler_path = functions(provisioned).get(sample.parent.name)
    assert handler_path, f"events/{sample.parent.name} names no function of the template"
    if sample.parent.name == "AuthBootstrapAdminFunction":  # it promotes a hired employee: hire them first
        bootstrap_admin(as_function, "admin@ates.example")
    as_function(sample.parent.name)
    module_name, function_name = handler_path.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), function_name)
    event = json.loads(sample.read_text())
    try:
        result = handler(event, LambdaContext())
    except Exception as error:  # the authorizer's way to say 401
        assert sample.parent.name == "AuthorizerFunction" and str(error) == "Unauthorized", error
        return
    if isinstance(result, dict) and "statusCode" in result:
        assert result["statusCode"] < 500, result
    if isinstance(result, dict) and "batchItemFailures" in result:
        assert result["batchItemFailures"] == [], result
