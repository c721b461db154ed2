"""The events tasks announces (SPEC §9): TaskCreated v2 with TaskAssigned("created") for a new task,
TaskAssigned("shuffle") for each reassignment, TaskCompleted for a completion."""

from __future__ import annotations

from shared.contracts import REGISTRY, Envelope
from shared.contracts.tasks import TaskAssignedV1, TaskCompletedV1, TaskCreatedV2
from tasks.domain import Task


def created(task: Task, correlation_id: str | None = None) -> list[Envelope]:
    return [
        REGISTRY.envelope(
            TaskCreatedV2(
                task_id=task.task_id, title=task.title, jira_id=task.jira_id, description=task.description,
                due_date=task.due_date, created_by=task.created_by,
            ),
            correlation_id=correlation_id,
        ),
        assigned(task.task_id, task.assignee_id, "created", correlation_id),
    ]  # fmt: skip


def assigned(task_id: str, assignee_id: str, reason: str, correlation_id: str | None = None) -> Envelope:
    return REGISTRY.envelope(
        TaskAssignedV1(task_id=task_id, assignee_id=assignee_id, reason=reason), correlation_id=correlation_id
    )


def completed(task: Task, correlation_id: str | None = None) -> Envelope:
    return REGISTRY.envelope(
        TaskCompletedV1(task_id=task.task_id, assignee_id=task.assignee_id), correlation_id=correlation_id
    )
