"""The emulator's background calls take turns, one at a time; the calls of the functions a person's request
waits on (named by devstack) and SQS long polls never wait for them (`devstack.priority`). On the emulator's
own WSGI app, in-process, with moto replaced by a stand-in that holds the calls it is told to."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from devstack import emulator, priority

SERVING = "TasksApiFunction"


class StandIn:
    """moto's place: records who is inside, holds a call marked `X-Hold` until released."""

    def __init__(self) -> None:
        self.inside: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        name = environ.get("HTTP_X_NAME", "?")
        with self.lock:
            self.inside.append(name)
        if environ.get("HTTP_X_HOLD"):
            assert self.release.wait(10), "never released"
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]


@pytest.fixture()
def served() -> Iterator[tuple[Client, StandIn]]:
    stand_in = StandIn()
    client = Client(emulator._with_devstack_routes(stand_in))
    named = client.post("/_devstack/foreground", json={"callers": [SERVING, "AuthorizerFunction"]})
    assert named.status_code == 200 and named.json == {"served_first": ["AuthorizerFunction", SERVING]}
    yield client, stand_in
    stand_in.release.set()


def call(client: Client, name: str, caller: str | None, target: str = "DynamoDB_20120810.GetItem", hold: bool = False):
    agent = f"Boto3/1.35 md/x app/{caller}" if caller else "devstack"
    headers = {"X-Name": name, "X-Amz-Target": target, "User-Agent": agent}
    if hold:
        headers["X-Hold"] = "1"
    return client.post("/", headers=headers, data=b"{}")


def in_thread(function, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=function, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def wait_inside(stand_in: StandIn, name: str) -> None:
    for _ in range(500):
        if name in stand_in.inside:
            return
        time.sleep(0.01)
    raise AssertionError(f"{name} never reached moto: {stand_in.inside}")


def test_a_background_call_waits_for_the_one_in_moto_and_a_request_serving_call_does_not(served):
    client, stand_in = served
    first = in_thread(call, client, "relay", "TasksOutboxRelayFunction", "AWSEvents.PutEvents", hold=True)
    wait_inside(stand_in, "relay")
    second = in_thread(call, client, "consumer", "AccountingOnTaskEventFunction")
    assert call(client, "api", SERVING).status_code == 200  # answered while the relay's call is still in moto
    assert call(client, "poll", None, "AmazonSQS.ReceiveMessage").status_code == 200  # a long poll never waits
    second.join(0.3)
    assert second.is_alive() and "consumer" not in stand_in.inside  # its turn comes after the relay's
    stand_in.release.set()
    first.join(5)
    second.join(5)
    assert stand_in.inside == ["relay", "api", "poll", "consumer"]


def test_calls_of_devstack_itself_and_of_unnamed_functions_take_turns(served):
    client, stand_in = served
    holder = in_thread(call, client, "stream read", None, "DynamoDBStreams_20120810.GetRecords", hold=True)
    wait_inside(stand_in, "stream read")
    waiting = in_thread(call, client, "job", "TasksShuffleJobFunction")
    waiting.join(0.3)
    assert waiting.is_alive() and "job" not in stand_in.inside
    stand_in.release.set()
    holder.join(5)
    waiting.join(5)
    assert stand_in.inside == ["stream read", "job"]


def test_a_query_protocol_receive_is_a_long_poll_too_and_its_body_still_reaches_moto():
    body = b"Action=ReceiveMessage&QueueUrl=q&WaitTimeSeconds=20"
    environ = {"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}  # fmt: skip
    assert priority.is_receive(environ) and environ["wsgi.input"].read() == body
    assert not priority.is_receive({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"})


def test_naming_the_request_serving_callers_takes_a_list_of_names(served):
    client, _ = served
    for bad in ({"callers": "TasksApiFunction"}, {"callers": [1]}, {"who": []}):
        answer = client.post("/_devstack/foreground", data=json.dumps(bad))
        assert answer.status_code == 400 and "callers" in answer.json["error"]
    assert client.get("/_devstack/health").json["served_first"] == ["AuthorizerFunction", SERVING]
