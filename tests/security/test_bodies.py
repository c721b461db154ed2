"""Oversized and malformed request bodies over HTTP through the security devstack: every one is refused with a
4xx in the error shape `{"error": {"code", "message"}}`, never a 5xx (SPEC §11).

- Over 64 KiB: 413 `payload_too_large` from the handler, on every operation, ahead of the role gate and of
  validation; over 10 MiB: 413 from the gateway itself (API Gateway's payload limit, answered with the
  template's REQUEST_TOO_LARGE gateway response), ahead of the authorizer.
- Malformed JSON: 400 `bad_request`; wrong types and missing fields: 422; deeply nested JSON, huge strings,
  NUL bytes, bytes that are not UTF-8, and bodies of another content type: a 4xx.
Bodies go to every documented operation that takes one, as the bootstrap admin (past every role gate).
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.security.openapi import Operation, operations

pytestmark = pytest.mark.slow

KIB, MIB = 1024, 1024 * 1024
GATEWAY_LIMIT = 10 * MIB  # API Gateway: 10 MB
WITH_BODY = [op for op in operations() if op.has_body]
JSON = {"Content-Type": "application/json"}


def send(stack, operation: Operation, body: bytes | None, token: str | None, **headers: str) -> requests.Response:
    sent = {**JSON, **headers, **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.request(
        operation.method, f"{stack.api_url}{operation.sample_path()}", data=body, headers=sent, timeout=120
    )


def error(response: requests.Response) -> dict:
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"]["code"], str), body
    assert isinstance(body["error"]["message"], str), body
    return body["error"]


def refused(response: requests.Response, *statuses: int) -> str:
    """The error code of a 4xx in the error shape (one of `statuses` if given)."""
    shown = f"{response.status_code} {response.text[:300]}"
    assert 400 <= response.status_code < 500, shown
    if statuses:
        assert response.status_code in statuses, shown
    return error(response)["code"]


def by_label(label: str) -> Operation:
    return next(op for op in operations() if op.label == label)


# -- size ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", operations(), ids=lambda op: op.label)
def test_a_body_over_64_kib_is_a_413_on_every_operation(stack, admin, operation):
    response = send(stack, operation, b'{"x": "' + b"a" * (100 * KIB) + b'"}', admin.token)
    assert (response.status_code, error(response)["code"]) == (413, "payload_too_large"), response.text


@pytest.mark.parametrize("caller", ["worker", "anonymous"])
def test_the_size_limit_comes_before_the_role_gate_and_validation(stack, cast, caller):
    """A worker on an admin route and an anonymous caller on a public one: 413, not 403 or 422."""
    label = "POST /staff/employees" if caller == "worker" else "POST /auth/login"
    popug = cast[caller]
    response = send(stack, by_label(label), b"[" + b"1," * (50 * KIB) + b"1]", popug.token if popug else None)
    assert (response.status_code, error(response)["code"]) == (413, "payload_too_large"), response.text


def test_a_1_mib_body_is_a_413(stack, admin):
    response = send(stack, by_label("POST /tasks"), json.dumps({"title": "x" * MIB}).encode(), admin.token)
    assert (response.status_code, error(response)["code"]) == (413, "payload_too_large"), response.text


def test_exactly_the_gateway_limit_still_reaches_the_handler(stack, admin):
    response = send(stack, by_label("POST /tasks"), b"a" * GATEWAY_LIMIT, admin.token)
    assert (response.status_code, error(response)["code"]) == (413, "payload_too_large"), response.text
    assert "x-amzn-ErrorType" not in response.headers  # the handler's 413, not the gateway's


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_over_the_gateway_limit_the_gateway_answers_413_before_the_authorizer(stack, chunked):
    size = GATEWAY_LIMIT + 1

    def chunks():
        left = size
        while left:
            part = min(left, 256 * KIB)
            left -= part
            yield b"a" * part

    # Anonymous, on a route that needs a token: the size is checked first, as API Gateway does.
    response = requests.post(f"{stack.api_url}/tasks", data=chunks() if chunked else b"a" * size, headers=JSON,
                             timeout=120)  # fmt: skip
    assert (response.status_code, error(response)["code"]) == (413, "payload_too_large"), response.text
    assert response.headers.get("x-amzn-ErrorType") == "RequestTooLargeException"


# -- malformed -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
@pytest.mark.parametrize(
    "body",
    [b'{"title": ', b"{'a': 1}", b"{,}", b'{"a": 1}}', b"not json at all", b'{"a": "\x00"}'],
    ids=["truncated", "single-quotes", "stray-comma", "trailing-brace", "bare-word", "raw-nul-in-string"],
)
def test_malformed_json_is_a_400(stack, admin, operation, body):
    assert refused(send(stack, operation, body, admin.token), 400) == "bad_request"


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
@pytest.mark.parametrize("body", [b"[]", b'"a string"', b"42", b"null", b"true"])
def test_a_body_that_is_not_an_object_is_a_422(stack, admin, operation, body):
    assert refused(send(stack, operation, body, admin.token), 422) == "validation_error"


WRONG = [
    ("POST /tasks", {"title": 5}),
    ("POST /tasks", {}),
    ("POST /tasks", {"title": "Sort the seeds", "due_date": ["2030-01-01"]}),
    ("POST /tasks", {"title": None}),
    ("POST /auth/login", {"email": "a@b.example"}),
    ("POST /auth/login", {"email": ["a@b.example"], "password": "x"}),
    ("POST /auth/login", {"email": "a@b.example", "password": {"$ne": None}}),
    ("POST /auth/password", {"token": 12345678901, "password": "x"}),
    ("POST /auth/password/change", {"current_password": "x"}),
    ("PUT /auth/accounts/{account_id}/roles", {"roles": "admin"}),
    ("PUT /auth/accounts/{account_id}/roles", {"roles": ["root"]}),
    ("PUT /auth/departments/{department_id}/roles", {}),
    ("POST /staff/employees", {"name": "Kesha"}),
    ("POST /staff/departments", {"name": 7}),
    ("POST /analytics/query", {"sql": 1}),
    ("POST /analytics/query", {"sql": "SELECT 1", "max_rows": 10**30}),
    ("POST /analytics/query", {"sql": "SELECT 1", "max_rows": -1}),
]


@pytest.mark.parametrize(("label", "body"), WRONG, ids=[f"{label} {json.dumps(body)[:40]}" for label, body in WRONG])
def test_wrong_types_and_missing_fields_are_a_422(stack, admin, label, body):
    assert refused(send(stack, by_label(label), json.dumps(body).encode(), admin.token), 422) == "validation_error"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"123456789" * 100])
def test_non_finite_and_huge_numbers_are_a_4xx(stack, admin, literal):
    body = b'{"sql": "SELECT 1", "max_rows": ' + literal + b"}"
    refused(send(stack, by_label("POST /analytics/query"), body, admin.token))


@pytest.mark.parametrize("operation", WITH_BODY, ids=lambda op: op.label)
def test_a_huge_string_under_the_size_limit_is_a_4xx(stack, admin, operation):
    """60 KiB in every field any body model has: over each one's own bound (R-TASK-1's 200 and 4,000, ...)."""
    huge = "\u00e9" * (30 * KIB)  # two bytes each in UTF-8
    fields = ["title", "description", "email", "password", "token", "current_password", "new_password", "name",
              "position", "sql", "roles"]  # fmt: skip
    refused(send(stack, operation, json.dumps({f: huge for f in fields}).encode(), admin.token))


def test_escaped_nul_characters_are_a_4xx_or_stored_harmlessly(stack, admin):
    response = send(stack, by_label("POST /tasks"), b'{"title": "Sort\\u0000the seeds"}', admin.token)
    assert response.status_code < 500, response.text
    login = send(stack, by_label("POST /auth/login"), b'{"email": "a\\u0000@b.example", "password": "\\u0000"}', None)
    assert refused(login, 401, 422)


def test_nul_bytes_and_odd_characters_in_paths_and_queries_are_a_4xx(stack, admin):
    headers = {"Authorization": f"Bearer {admin.token}"}
    for path in ["/tasks/%00", "/staff/employees/..%2F..%2Fauth%2Fme", "/tasks/%E2%80%AE", "/tasks/" + "a" * 4000]:
        refused(requests.get(f"{stack.api_url}{path}", headers=headers, timeout=60))
    for query in ["status=%00", "assignee_id=%00", "limit=%00", "cursor=%00%FF", "limit=1e400", "cursor=" + "A" * 4000]:
        refused(requests.get(f"{stack.api_url}/tasks?{query}", headers=headers, timeout=60))


# -- what would break the body parser itself: each was a 500 until functions/shared/http.py refused it first --


def answers(stack, admin, body: bytes, **headers: str) -> dict[str, str]:
    """Every operation that takes a body -> what it answered, for the ones that did not answer a 4xx."""
    wrong = {}
    for operation in WITH_BODY:
        response = send(stack, operation, body, admin.token, **headers)
        if not 400 <= response.status_code < 500:
            wrong[operation.label] = f"{response.status_code} {response.text[:120]}"
    return wrong


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml"])
def test_an_undeclared_content_type_is_a_4xx(stack, admin, content_type):
    wrong = answers(stack, admin, b'{"title": "Sort the seeds"}', **{"Content-Type": content_type})
    assert not wrong, wrong


def test_a_body_that_is_not_utf8_is_a_400(stack, admin):
    wrong = answers(stack, admin, b'{"title": "\xff\xfe seeds"}')
    assert not wrong, wrong


@pytest.mark.parametrize("opening", [b"[", b'{"a":'], ids=["arrays", "objects"])
def test_deeply_nested_json_is_a_4xx(stack, admin, opening):
    closing = b"]" if opening == b"[" else b"}"
    wrong = answers(stack, admin, opening * 5000 + b"1" + closing * 5000)
    assert not wrong, wrong
