"""The email field validates exactly as pydantic's EmailStr, and costs a cold start nothing (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
from pydantic import BaseModel, ValidationError

from shared.email_address import EmailStr

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


class Ours(BaseModel):
    email: EmailStr


class Pydantics(BaseModel):
    email: pydantic.EmailStr


def outcome(model: type[BaseModel], value: str) -> object:
    try:
        return model(email=value).email
    except ValidationError as error:
        return [(e["type"], e["msg"]) for e in error.errors()]


@pytest.mark.parametrize(
    "value",
    ["Popug@Example.COM", "  padded@example.com ", "no-at-sign", "two@@example.com", "a@localhost", "x" * 300 + "@a.io",
     "John Doe <john@example.com>", "line\nbreak@example.com", "émile@exämple.com", ""],
)  # fmt: skip
def test_it_accepts_normalises_and_refuses_as_pydantics_emailstr(value):
    assert outcome(Ours, value) == outcome(Pydantics, value)


def test_its_schema_is_an_email_string_as_pydantics():
    assert Ours.model_json_schema()["properties"]["email"] == {"format": "email", "title": "Email", "type": "string"}


def test_a_model_with_the_field_imports_no_email_validator_until_an_address_is_validated():
    probe = (
        "import sys; from pydantic import BaseModel; from shared.email_address import EmailStr\n"
        "class M(BaseModel):\n    email: EmailStr\n"
        "before = 'email_validator' in sys.modules; M(email='a@example.com')\n"
        "print(before, 'email_validator' in sys.modules)"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(FUNCTIONS)}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
