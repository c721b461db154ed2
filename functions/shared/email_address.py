"""The email address field of the HTTP and bootstrap inputs: pydantic's `EmailStr`, validated alike."""

from __future__ import annotations

from typing import Any

import pydantic
from pydantic_core import core_schema


class EmailStr(pydantic.EmailStr):
    """pydantic's EmailStr (the same rule, errors and JSON schema), but email-validator and the IDNA tables it
    loads are imported by the first address validated (pydantic's `validate_email` does), not by every cold
    start that builds a model with the field: most calls of the staff API validate no address."""

    @classmethod
    def __get_pydantic_core_schema__(cls, _source: type[Any], _handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(cls._validate, core_schema.str_schema())
