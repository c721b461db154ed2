"""Base of every event's `data`: unknown fields are ignored so a producer may add optional fields."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

Role = Annotated[str, Field(pattern="^(worker|manager|admin|accountant)$")]
Cents = int
EntityVersion = Annotated[int, Field(ge=1, description="Grows with every change of the entity (data events).")]


class EventData(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


__all__ = ["UUID", "Cents", "EntityVersion", "EventData", "Field", "Role"]
