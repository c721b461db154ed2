"""devstack/emulator.py's direct dispatch: the JSON-protocol calls of DynamoDB, its streams, SQS and
EventBridge are answered by moto's handler without moto's Flask app, exactly as the app answers them."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from devstack import emulator

ENDPOINT = "http://127.0.0.1:4566"
CALLS = [  # (service, operation, parameters): a read, and an error the code relies on, per service
    ("sqs", "list_queues", {}),
    ("sqs", "get_queue_url", {"QueueName": "no-such-queue"}),
    ("events", "list_event_buses", {}),
    ("events", "describe_event_bus", {"Name": "no-such-bus"}),
    ("dynamodbstreams", "list_streams", {}),
    ("dynamodbstreams", "describe_stream", {"StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/y"}),
    ("dynamodb", "list_tables", {}),
    ("dynamodb", "describe_table", {"TableName": "no-such-table"}),
]


def _wire(service: str, operation: str, parameters: dict[str, Any]) -> Any:
    """The signed request boto3 puts on the wire for the call (captured, not sent)."""
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, None)

    client = boto3.client(service, endpoint_url=ENDPOINT, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip
    client.meta.events.register("before-send", capture)
    with contextlib.suppress(Exception):  # the empty answer does not parse; the request is what is wanted
        getattr(client, operation)(**parameters)
    return captured[0]


def _serve(app: Any, request: Any) -> tuple[str, dict[str, str], bytes]:
    from werkzeug.test import EnvironBuilder

    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    environ = EnvironBuilder(path="/", method=request.method, headers=headers, data=body,
                             base_url=ENDPOINT).get_environ()  # fmt: skip
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(headers))

    data = b"".join(app(environ, start_response))
    return answer["status"], answer["headers"], data


def _comparable(data: bytes) -> Any:
    try:
        parsed = json.loads(data)
    except ValueError:
        return data
    return {k: v for k, v in parsed.items() if k not in ("RequestId",)} if isinstance(parsed, dict) else parsed


@pytest.mark.parametrize(("service", "operation", "parameters"), CALLS)
def test_a_direct_call_is_answered_without_flask_as_flask_answers_it(
    service: str, operation: str, parameters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import flask
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    moto_app = DomainDispatcherApplication(create_backend_app)
    request = _wire(service, operation, parameters)
    status, headers, data = _serve(moto_app, request)

    def no_flask(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("went through moto's Flask app")

    monkeypatch.setattr(flask.Flask, "wsgi_app", no_flask)
    direct = _serve(emulator._direct_dispatch(moto_app), request)
    code = status.split()[0]  # the reason phrase's case is Flask's own ("BAD REQUEST"); clients read the code
    assert (direct[0].split()[0], direct[1]["Content-Type"]) == (code, headers["Content-Type"])
    assert _comparable(direct[2]) == _comparable(data)
    assert int(direct[1]["Content-Length"]) == len(direct[2])
