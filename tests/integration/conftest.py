"""Integration fixtures: the resources of template.yaml provisioned on the emulator by devstack's own
provisioner, and a way to run a handler in-process with exactly its function's template environment."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fresh_emulator() -> Iterator[str]:
    """An emulator of the requesting module's own (e.g. provisioning must work on an empty one); it must
    exit cleanly on SIGTERM."""
    from devstack import emulator

    port = emulator.free_port()
    process = emulator.start(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        emulator.stop(process)
    assert process.returncode == 0, "the emulator should exit cleanly on SIGTERM"


@pytest.fixture(scope="session")
def provisioned(emulator):
    from devstack import provision, template

    # As devstack sets them: no Athena locally (DuckDB runs the analytics SQL), no SES throttling.
    stack = template.load(
        ROOT / "template.yaml", {"Stage": "local", "AnalyticsQueryEngine": "duckdb", "SesMaxSendRate": "0"}
    )
    return provision.provision(stack, emulator)


def template_table(provisioned, logical_id: str) -> str:
    """A fresh, empty table of one of the template's table resources: its keys, indexes and stream."""
    from shared.aws import client

    props = provisioned.properties(logical_id)
    name = f"{logical_id.lower()}-{uuid.uuid4().hex[:10]}"
    stream = {"StreamEnabled": True, "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
    request: dict[str, Any] = {
        "TableName": name, "AttributeDefinitions": props["AttributeDefinitions"], "KeySchema": props["KeySchema"],
        "BillingMode": "PAY_PER_REQUEST", "StreamSpecification": stream,
    }  # fmt: skip
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    client("dynamodb").create_table(**request)
    return name


def function_environment(provisioned, logical_id: str) -> dict[str, str]:
    properties = provisioned.properties(logical_id)
    return {k: str(v) for k, v in (properties.get("Environment") or {}).get("Variables", {}).items()}


@pytest.fixture()
def as_function(provisioned, monkeypatch) -> Callable[[str], dict[str, str]]:
    """`as_function("AuthApiFunction")` gives this process that function's environment (and fresh settings)."""

    def use(logical_id: str) -> dict[str, str]:
        environment = function_environment(provisioned, logical_id)
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        _clear_settings_caches()
        return environment

    yield use
    _clear_settings_caches()


def _clear_settings_caches() -> None:
    import sys

    for module in list(sys.modules.values()):
        get = getattr(module, "get", None) if getattr(module, "__name__", "").endswith(".settings") else None
        if get is not None and hasattr(get, "cache_clear"):
            get.cache_clear()


class LambdaContext:
    """The attributes powertools reads from Lambda's context object."""

    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test"
    log_group_name = "/aws/lambda/test"
    log_stream_name = "test"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    caller: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """A REST API (v1) proxy event as API Gateway sends it, authorizer context included."""
    headers = {"content-type": "application/json", "host": "127.0.0.1"}
    return {
        "resource": path, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()}
        or None, "pathParameters": None, "stageVariables": None,
        "requestContext": {"resourcePath": path, "httpMethod": method, "path": f"/local{path}", "stage": "local",
                           "requestId": str(uuid.uuid4()), "identity": {"sourceIp": "127.0.0.1"},
                           "authorizer": ({"principalId": caller["sub"], **caller} if caller else None)},
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }  # fmt: skip


def call(handler: Callable, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler(event, LambdaContext())
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else {}


@pytest.fixture(autouse=True)
def _quiet_powertools(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"))
    yield


def bootstrap_admin(as_function: Callable[[str], dict[str, str]], email: str, name: str = "Admin") -> dict[str, str]:
    """The two bootstrap steps of R-AUTH-8, with the EmployeeHired event between them delivered in-process."""
    from shared.contracts import REGISTRY
    from shared.contracts.staff import EmployeeHiredV1
    from tests.events import deliver

    as_function("StaffBootstrapHireFunction")
    from staff import bootstrap_hire

    employee = bootstrap_hire.lambda_handler({"email": email, "name": name}, LambdaContext())
    as_function("AuthOnEmployeeChangedFunction")
    from auth import on_employee_changed

    hired = EmployeeHiredV1(**{k: employee[k] for k in ("employee_id", "version", "name", "email", "position")},
                            department_id=None)  # fmt: skip
    outcome = deliver(on_employee_changed.lambda_handler, REGISTRY.envelope(hired))
    assert outcome == {"batchItemFailures": []}, "auth could not apply the hire (see the log above)"
    as_function("AuthBootstrapAdminFunction")
    from auth import bootstrap_admin as step_two

    return step_two.lambda_handler({"email": email, "wait_seconds": 0}, LambdaContext())


@pytest.fixture()
def table(emulator) -> str:
    """A fresh single-table-shaped table with a stream (the event kernel's tests and the stream replays')."""
    from tests.conftest import make_table

    return make_table(f"kernel-{uuid.uuid4().hex[:8]}")


@pytest.fixture()
def bus_queue(emulator, monkeypatch) -> str:
    """A bus with one rule for every ates event, delivering to a queue (as production consumers do)."""
    from shared.aws import client

    name = f"bus-{uuid.uuid4().hex[:8]}"
    client("events").create_event_bus(Name=name)
    queue_url = client("sqs").create_queue(QueueName=f"q-{name}")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    client("events").put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": [{"prefix": "ates."}]}))
    client("events").put_targets(Rule="all", EventBusName=name, Targets=[{"Id": "q", "Arn": queue_arn}])
    monkeypatch.setenv("EVENT_BUS_NAME", name)
    return queue_url
