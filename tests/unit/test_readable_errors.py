"""R-UI-7: every validation failure's `error.message` is written for a person (which field in words, what is wrong,
what to do), never a field path (`query.q`), a regular expression or pydantic's wording; the machine detail is in
`error.fields` ([{field, in, problem, message}]). Proven through a resolver made like every context's, on the
cases seen in issue 18 (a long search, a malformed employee id) and the other kinds a form can send."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any, Literal

import pytest
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from shared import problems
from shared.http import UUID_PATTERN, PathId, make_resolver

app = make_resolver()

# What a message must never show: a field path, a pattern, pydantic's phrasing or its type names.
LIBRARY_WORDING = re.compile(
    r"(query|path|body)\.\w|\^\[|\{\d|\\d|String should|Input should|Field required|value is not a valid|"
    r"validation error|type=|literal_error|string_too_long"
)


class Hire(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    email: str
    roles: list[Literal["worker", "manager", "admin", "accountant"]] = Field(default=[], max_length=4)
    department_id: uuid.UUID | None = None


@app.get("/staff/employees")
def directory(
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    status: Annotated[Literal["active", "dismissed"] | None, Query()] = None,
) -> dict[str, Any]:
    return {"items": []}


@app.get("/staff/employees/<employee_id>")
def employee(employee_id: PathId) -> dict[str, Any]:
    return {"employee_id": employee_id}


@app.post("/staff/employees")
def hire(body: Hire) -> dict[str, Any]:
    return {"name": body.name}


def call(method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> tuple[int, dict]:
    event = {
        "resource": f"/api{path}", "path": f"/api{path}", "httpMethod": method,
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()},
        "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
        "body": None if body is None else json.dumps(body),
        "requestContext": {"requestId": "r", "resourcePath": f"/api{path}", "httpMethod": method,
                           "path": f"/api{path}", "authorizer": {"sub": "popug-1", "roles": "admin"}},
    }  # fmt: skip
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"])["error"]


def readable(error: dict) -> str:
    message = error["message"]
    assert not LIBRARY_WORDING.search(message), message
    assert message[0].isupper() and message.endswith("."), message
    return message


def test_r_ui_7_a_long_search_says_which_field_and_how_long_it_may_be():
    status, error = call("GET", "/staff/employees", {"q": "x" * 201})
    assert (status, error["code"]) == (422, "validation_error")
    assert readable(error) == "The search text is too long: use at most 200 characters (this one has 201)."
    assert error["fields"] == [{"field": "q", "in": "query", "problem": "string_too_long", "message": error["message"]}]


def test_r_ui_7_a_malformed_employee_id_is_a_sentence_not_a_regular_expression():
    status, error = call("GET", "/staff/employees/not-an-id")
    assert status == 422
    message = readable(error)
    assert "the employee id is not a valid id" in message.lower() and UUID_PATTERN not in json.dumps(error)
    assert [(f["field"], f["in"]) for f in error["fields"]] == [("employee_id", "path")]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"limit": "many"}, "The page size must be a whole number"),
        ({"limit": "0"}, "The page size must be at least 1"),
        ({"limit": "1000"}, "The page size must be at most 100"),
        ({"status": "retired"}, "The status must be one of 'active' or 'dismissed'"),
    ],
)
def test_r_ui_7_query_parameters_are_named_in_words(query, words):
    status, error = call("GET", "/staff/employees", query)
    assert status == 422 and readable(error).startswith(words), error


def test_r_ui_7_every_broken_field_of_a_body_gets_its_own_sentence():
    body = {"email": 7, "roles": ["emperor"], "department_id": "nope", "nickname": "Kesha"}
    status, error = call("POST", "/staff/employees", body=body)
    assert status == 422
    by_field = {f["field"]: f["message"] for f in error["fields"]}
    assert by_field == {
        "name": "The name is required: fill it in.",
        "email": "The email address must be text.",
        "roles[0]": "Item 1 of the roles must be one of 'worker', 'manager', 'admin' or 'accountant'.",
        "department_id": f"The department id is not a valid id: ids look like {problems.UUID_EXAMPLE}. Check the "
        "link, or pick it from a list instead of typing it.",
        "nickname": "The nickname is not something this request takes: leave it out.",
    }
    assert readable(error) == " ".join(by_field.values())


def test_r_ui_7_an_empty_name_and_a_body_that_is_not_an_object():
    assert readable(call("POST", "/staff/employees", body={"name": "", "email": "k@x"})[1]) == (
        "The name cannot be empty: fill it in."
    )
    status, error = call("POST", "/staff/employees", body=["Kesha"])
    assert status == 422 and readable(error) == "The request body must be an object with named fields."


def test_r_ui_7_a_date_parameter_checked_by_the_domain_speaks_the_same_way():
    from accounting import domain

    with pytest.raises(problems.Unprocessable) as raised:
        domain.parse_range("2026-12-01", "2026-11-01")
    error = raised.value
    assert error.code == "invalid_range" and not LIBRARY_WORDING.search(error.message)
    assert error.message == "The end date (2026-11-01) is before the start date (2026-12-01): swap them."
    assert [f["field"] for f in error.details["fields"]] == ["from", "to"]


def test_r_ui_7_a_malformed_email_address_says_what_is_wrong_with_it():
    from shared.email_address import EmailStr

    class Invite(BaseModel):
        email: EmailStr

    try:
        Invite(email="kesha@")
    except ValueError as error:
        (problem,) = problems.from_validation(error.errors())  # type: ignore[attr-defined]
    assert problem.message == (
        "The email address is not valid: there must be something after the @-sign. Write it like kesha@uberpopug.com."
    )


def test_r_ui_7_any_key_a_caller_sends_gets_a_sentence_not_a_500():
    """Unknown keys are whatever the caller typed: brackets, dots, emoji (schemathesis sent `"\\u008a[\\udafc\\udda9V"`,
    whose `[` once read as the start of an index and failed with a 500)."""
    body = '{"name": "K", "email": "k@x", "\\u008a[\\udafc\\udda9V": {}, "x[3]": 1, "a.b": 2, "[": 3}'
    event = {
        "resource": "/api/staff/employees", "path": "/api/staff/employees", "httpMethod": "POST",
        "headers": {"Content-Type": "application/json"}, "multiValueHeaders": {}, "queryStringParameters": None,
        "multiValueQueryStringParameters": None, "pathParameters": None, "stageVariables": None,
        "isBase64Encoded": False, "body": body,
        "requestContext": {"requestId": "r", "resourcePath": "/api/staff/employees", "httpMethod": "POST",
                           "path": "/api/staff/employees", "authorizer": {"sub": "popug-1", "roles": "admin"}},
    }  # fmt: skip
    response = app.resolve(event, None)
    assert response["statusCode"] == 422, response["body"]
    error = json.loads(response["body"])["error"]
    assert len(error["fields"]) == 4 and all(f["problem"] == "extra_forbidden" for f in error["fields"])
    assert "Item 4 of the x is not something" in error["message"]
    lone = event | {"body": '{"name": "K", "email": "k@x", "\\udafc": 1}'}
    assert app.resolve(lone, None)["statusCode"] == 422  # a lone surrogate: the body is not text
