"""The base of every success body a route answers, and the page of a list. Apart from `shared.http` and
`shared.pagination` so that what only reads a table (a store, the authorizer) builds no response model and
imports no HTTP resolver."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Item = TypeVar("Item")


class ResponseModel(BaseModel):
    """A success body. Extra keys are refused, so a handler answering a field its document does not list
    fails its tests instead of the document quietly falling behind."""

    model_config = ConfigDict(extra="forbid")


class Page(ResponseModel, Generic[Item]):
    """One page of a list: `Page[EmployeeView]` in a route's return annotation documents and checks it."""

    items: list[Item]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last one")
