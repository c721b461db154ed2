"""Events of the tasks context (source `ates.tasks`), SPEC §9."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from shared.contracts.base import UUID, EventData

JIRA_IN_TITLE = re.compile(r"^\s*\[(?P<jira>[A-Z][A-Z0-9]+-\d+)\]\s*(?P<title>.*)$")


class TaskCreatedV1(EventData):
    task_id: UUID
    title: str
    description: str = ""
    created_by: UUID


class TaskCreatedV2(EventData):
    task_id: UUID
    title: str
    jira_id: str | None = None
    description: str = ""
    due_date: date | None = None
    created_by: UUID


def upcast_task_created_v1(data: dict) -> dict:
    """v1 kept the jira id inside the title as `[UBERPOP-42] title`; v2 has it in its own field."""
    upcast = dict(data)
    match = JIRA_IN_TITLE.match(data.get("title", ""))
    upcast["jira_id"] = match["jira"] if match else None
    upcast["title"] = match["title"].strip() if match else data.get("title", "")
    upcast["due_date"] = None
    return upcast


class TaskAssignedV1(EventData):
    task_id: UUID
    assignee_id: UUID
    reason: Literal["created", "shuffle"]


class TaskCompletedV1(EventData):
    task_id: UUID
    assignee_id: UUID
