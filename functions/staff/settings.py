"""What the staff functions read from their environment (set in template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import settings


@dataclass(frozen=True)
class StaffSettings:
    staff_table_name: str


@cache
def get() -> StaffSettings:
    return settings.load(StaffSettings)
