"""The access gate of shared.http (R-AUTH-3: handlers enforce roles per route): who may call a route is
declared on it once, and that declaration is checked before the request is validated or handled, so a
caller without the role gets 403 whatever they send and causes nothing; an oversized body is a 413.
What would break the body parser itself (bytes that are not UTF-8, JSON nested past its recursion
limit, a body that is not JSON) is a 4xx too, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import BaseModel

from shared.http import MAX_BODY_BYTES, PathId, ResponseModel, errors, make_resolver, only, public

app = make_resolver()
handled: list[str] = []


class Note(BaseModel):
    text: str


@app.post("/notes", **only("admin", "accountant"))
def add_note(body: Note) -> dict[str, Any]:
    handled.append(body.text)
    return {"text": body.text}


@app.get("/notes/mine")
def my_notes() -> dict[str, Any]:
    return {"items": []}


@app.post("/hello", **public())
def hello(body: Note) -> dict[str, Any]:
    return {"hello": body.text}


class Thing(ResponseModel):
    thing_id: str


@app.get("/things/<thing_id>", responses=errors(404))
def get_thing(thing_id: PathId) -> Thing:
    return (
        {"thing_id": thing_id, "secret": "not in the document"} if thing_id.startswith("0") else {"thing_id": thing_id}
    )


def request(
    method: str,
    path: str,
    body: str | None = None,
    roles: str | None = None,
    *,
    base64_body: bool = False,
    content_type: str = "application/json",
) -> tuple[int, dict]:
    event = {
        "resource": f"/api{path}", "path": f"/api{path}", "httpMethod": method,
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": body, "isBase64Encoded": base64_body,
        "requestContext": {
            "requestId": "r", "resourcePath": f"/api{path}", "httpMethod": method, "path": f"/api{path}",
            "authorizer": {"sub": "popug-1", "roles": roles} if roles is not None else {},
        },
    }  # fmt: skip
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture(autouse=True)
def _nothing_handled():
    handled.clear()


def test_an_allowed_role_is_handled():
    assert request("POST", "/notes", json.dumps({"text": "hi"}), roles="worker,accountant") == (200, {"text": "hi"})
    assert handled == ["hi"]


@pytest.mark.parametrize("body", [json.dumps({"text": "hi"}), "{not json", json.dumps({"wrong": 1}), None])
def test_a_caller_without_the_role_gets_403_whatever_the_body_and_nothing_runs(body):
    status, answer = request("POST", "/notes", body, roles="worker,manager")
    assert (status, answer["error"]["code"]) == (403, "forbidden")
    assert "admin, accountant" in answer["error"]["message"]
    assert handled == []


def test_an_allowed_caller_with_a_bad_body_gets_the_validation_error():
    assert request("POST", "/notes", "{not json", roles="admin")[0] == 400
    assert request("POST", "/notes", json.dumps({"wrong": 1}), roles="admin")[0] == 422


def test_a_signed_in_route_needs_a_caller_but_no_role():
    assert request("GET", "/notes/mine", roles="")[0] == 200
    status, answer = request("GET", "/notes/mine")
    assert (status, answer["error"]["code"]) == (401, "unauthorized")


def test_a_public_route_needs_no_caller():
    assert request("POST", "/hello", json.dumps({"text": "popug"})) == (200, {"hello": "popug"})


@pytest.mark.parametrize("path", ["/notes", "/hello"])
def test_a_body_over_the_limit_is_413_before_anything_else(path):
    huge = json.dumps({"text": "x" * MAX_BODY_BYTES})
    status, answer = request("POST", path, huge, roles="admin")
    assert (status, answer["error"]["code"]) == (413, "payload_too_large")
    assert handled == []


def test_a_route_cannot_be_declared_for_no_role_or_an_unknown_one():
    with pytest.raises(ValueError):
        only()
    with pytest.raises(ValueError):
        only("admin", "overlord")


def test_a_body_that_is_not_utf8_is_a_400_not_a_crash():
    raw = base64.b64encode(b'{"text": "\xff\xfe"}').decode()
    status, answer = request("POST", "/hello", raw, base64_body=True)
    assert (status, answer["error"]["code"]) == (400, "bad_request")


def test_json_nested_past_the_parser_is_a_400_not_a_crash():
    status, answer = request("POST", "/hello", "[" * 5000 + "]" * 5000)
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    assert "nested" in answer["error"]["message"]


@pytest.mark.parametrize("content_type", ["multipart/form-data", "application/x-www-form-urlencoded", "text/plain"])
def test_only_json_bodies_are_parsed(content_type):
    status, answer = request("POST", "/hello", "text=popug", content_type=content_type)
    assert (status, answer["error"]["code"]) == (415, "unsupported_media_type")


def test_an_answer_the_document_does_not_list_is_a_500_not_a_422():
    thing = "1" + "0" * 7 + "-0000-0000-0000-000000000000"
    assert request("GET", f"/things/{thing}", roles="") == (200, {"thing_id": thing})
    status, answer = request("GET", "/things/00000000-0000-0000-0000-000000000000", roles="")
    assert (status, answer["error"]["code"]) == (500, "internal_error")
    assert "secret" not in json.dumps(answer)


@pytest.mark.parametrize("segment", ["\x84", "not-an-id", "a b", "\u00e9t\u00e9"])
def test_a_malformed_path_parameter_is_a_422_not_an_unknown_route(segment):
    status, answer = request("GET", f"/things/{segment}", roles="")
    assert (status, answer["error"]["code"]) == (422, "validation_error")


def test_the_document_lists_each_route_s_real_responses_in_the_error_shape():
    paths = json.loads(app.get_openapi_json_schema())["paths"]
    statuses = {(m.upper(), p): sorted(op["responses"]) for p, item in paths.items() for m, op in item.items()}
    assert statuses == {
        ("POST", "/notes"): ["200", "400", "401", "403", "413", "415", "422", "429"],
        ("GET", "/notes/mine"): ["200", "401", "429"],
        ("POST", "/hello"): ["200", "400", "413", "415", "422", "429"],
        ("GET", "/things/{thing_id}"): ["200", "401", "404", "422", "429"],
    }
    thing = paths["/things/{thing_id}"]["get"]["responses"]
    assert thing["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Thing"}
    assert thing["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
