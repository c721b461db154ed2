"""The Tracer costs a cold start nothing where tracing is off, and traces in Lambda as before (issue 14).

Each case imports `shared.observability` in a fresh interpreter: the Tracer is built at import, and its
configuration is shared by the whole process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from aws_lambda_powertools import Tracer

from shared.observability import tracing_enabled

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
PROBE = """
import json, sys
from shared.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    if event.get("fail"):
        raise ValueError("failed")
    return {"answer": event["n"] * 2}

result = {
    "xray_imported": "aws_xray_sdk.core" in sys.modules,
    "disabled": tracer.disabled,
    "provider": type(tracer.provider).__module__,
}
if tracer.disabled:
    result["answer"] = handler({"n": 21}, None)
    try:
        handler({"fail": True}, None)
    except ValueError as error:
        result["raised"] = str(error)
print(json.dumps(result))
"""


def traced(**environment: str) -> dict:
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(FUNCTIONS), **environment}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_outside_lambda_the_tracer_never_imports_the_xray_sdk_and_handlers_run_as_ever():
    result = traced()
    assert result["disabled"] and not result["xray_imported"]
    assert result["answer"] == {"answer": 42} and result["raised"] == "failed"


def test_in_lambda_with_tracing_on_the_tracer_is_powertools_own_on_the_xray_sdk():
    result = traced(LAMBDA_TASK_ROOT="/var/task", AWS_LAMBDA_FUNCTION_NAME="ates-dev-AuthorizerFunction")
    assert not result["disabled"] and result["xray_imported"]
    assert result["provider"].startswith("aws_xray_sdk")


@pytest.mark.parametrize(
    ("environment", "enabled"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({}, False),  # not in Lambda
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "0"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),  # sam local, devstack
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_CHALICE_CLI_MODE": "true"}, False),
    ],
)
def test_tracing_is_on_exactly_where_powertools_would_trace(environment, enabled, monkeypatch):
    assert tracing_enabled(environment) is enabled
    for name in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Powertools' own rule: a release that changes it fails here
    assert bool(Tracer._is_tracer_disabled()) is not enabled
