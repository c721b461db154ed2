"""The envelope every event travels in (EventBridge `detail`), SPEC §9."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: UUID
    event_name: str = Field(min_length=1)
    event_version: int = Field(ge=1)
    event_time: datetime
    producer: str = Field(pattern=r"^ates\.[a-z]+$")
    correlation_id: str
    data: dict[str, Any]
