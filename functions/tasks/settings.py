"""What the tasks functions read from their environment (set in template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import settings


@dataclass(frozen=True)
class TasksSettings:
    tasks_table_name: str
    # Tasks one shuffle step reads (one Query page) and reassigns. 49 tasks ride in each transaction
    # (with their history entries and one outbox item); the step's last transaction also carries the
    # job's progress, so a step of 49k tasks fills every transaction (980: 20 transactions).
    shuffle_chunk_tasks: int = 980
    # A running shuffle that recorded no progress for this long is taken over by the next press.
    shuffle_stale_seconds: int = 300


@cache
def get() -> TasksSettings:
    return settings.load(TasksSettings)
