"""Tasks HTTP API (R-TASK-1..6): anyone signed in creates a task, which goes at once to a uniformly random
assignee; managers and admins shuffle every open task (a job) and see all tasks; only the current
assignee completes an open task. Every change commits with its events in one transaction.

Visibility: a worker (anyone without manager or admin) sees only the tasks assigned to them now. Asking
for someone else's task or list is 403 (`forbidden`): seeing all tasks is what the manager and admin
roles grant, and 403 is exactly "a role is missing" here (R-TASK-4). Unknown or expired tasks are 404.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import replace
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from shared import clock, dynamo, pagination
from shared.errors import Conflict, Forbidden, NotFound
from shared.http import UUID_PATTERN, PathId, ResponseModel, answer, caller, errors, make_resolver, only
from shared.observability import logger, tracer
from shared.responses import Page
from tasks import domain, events, store
from tasks.domain import VIEW_ALL_ROLES, HistoryEntry, ShuffleJob, Task
from tasks.settings import get as settings

app = make_resolver()

# Injectable for tests; in production the OS's randomness, so no one can predict who gets a task.
rng: random.Random = random.SystemRandom()
ATTEMPTS = 4
ME_OR_UUID = f"^(me|{UUID_PATTERN[1:-1]})$"
NOT_YOURS = (403, "a worker asking for another popug's task or list (`forbidden`)")
NO_ASSIGNEE = "nobody can take tasks (`no_assignee`)"


class CreateTaskRequest(BaseModel):
    """Types only: the rules of R-TASK-1 are `domain.validate_new_task`, with messages that say which."""

    model_config = ConfigDict(extra="forbid")

    title: str
    jira_id: str | None = None
    description: str | None = None
    due_date: str | None = None


class TaskView(ResponseModel):
    task_id: str
    title: str
    jira_id: str | None
    description: str
    due_date: str | None
    status: Literal["open", "done"]
    assignee_id: str
    created_by: str
    created_at: str
    assigned_at: str
    completed_at: str | None
    assign_fee: int | None = Field(description="integer cents charged per assignment; null until accounting priced it")
    reward: int | None = Field(description="integer cents paid on completion; null until accounting priced it")


class HistoryView(ResponseModel):
    at: str
    kind: Literal["created", "shuffled", "completed"]
    assignee_id: str = Field(description="who held the task from then on (who completed it, for `completed`)")
    by: str | None = Field(description="the creator, the shuffle job, or the popug who completed it")


class TaskDetailView(TaskView):
    history: list[HistoryView] = Field(description="oldest first: created, every shuffle, the completion")


class ShuffleJobView(ResponseModel):
    job_id: str
    status: Literal["running", "done", "failed"]
    total: int | None = Field(description="the open tasks to reassign; null until the job has counted them")
    done: int
    skipped: int = Field(description="tasks completed before the job reached them")
    started_at: str
    started_by: str
    finished_at: str | None
    error: str | None


def _correlation_id() -> str:
    return app.current_event.request_context.request_id


def _no_assignee(outcome: str = "nothing was created") -> Conflict:
    return Conflict(
        "nobody can take tasks right now: there is no active popug with the worker role (and neither manager "
        f"nor admin); {outcome}",
        code="no_assignee",
    )


def _conflicted(error: ClientError, attempt: int) -> bool:
    """A transaction cancelled only because another one touched the same item: worth another try."""
    if "TransactionConflict" not in dynamo.cancellation_codes(error) or attempt == ATTEMPTS - 1:
        return False
    time.sleep(0.02 * 2**attempt)
    return True


def _visible(task_id: str) -> tuple[Task, list[HistoryEntry], bool]:
    task, history, price_item = store.read_task(task_id)
    if task is None or not task.visible(clock.epoch_seconds()):
        raise NotFound(f"no task {task_id}")
    return task, history, price_item


# --- tasks ---------------------------------------------------------------------------------------


@app.post("/tasks", status_code=201, responses=errors((409, f"{NO_ASSIGNEE}, or they kept changing (`busy`)")))
def create_task(body: CreateTaskRequest) -> Response[TaskView]:
    who = caller(app)
    fields = domain.validate_new_task(body.title, body.jira_id, body.description, body.due_date)
    for attempt in range(ATTEMPTS):
        assignee = domain.choose_assignee(store.pool_ids(), rng)
        if assignee is None:
            raise _no_assignee()
        now = clock.iso(clock.now())
        task = Task(
            task_id=str(uuid.uuid4()), title=fields.title, jira_id=fields.jira_id, description=fields.description,
            due_date=fields.due_date, status="open", assignee_id=assignee, created_by=who.employee_id,
            created_at=now, assigned_at=now,
        )  # fmt: skip
        try:
            store.create_task(task, events.created(task, _correlation_id()))
        except store.AssigneeGone:
            logger.info("the chosen assignee left the pool meanwhile; choosing again", assignee_id=assignee)
            continue
        except ClientError as error:
            if _conflicted(error, attempt):
                continue
            raise
        logger.info("task created", task_id=task.task_id, assignee_id=assignee)
        return answer(201, task.public())
    raise Conflict("the popugs who can take tasks kept changing while assigning this one; try again", code="busy")


@app.get("/tasks", responses=errors(NOT_YOURS))
def list_tasks(
    status: Annotated[Literal["open", "done"] | None, Query()] = None,
    assignee_id: Annotated[str | None, Query(pattern=ME_OR_UUID)] = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    q: Annotated[
        str | None, Query(max_length=1000, description="the start of a title (any case) or of a Jira id")
    ] = None,
    sort: Annotated[str | None, Query(max_length=100, description="`created` (default) or `title`")] = None,
    order: Annotated[str | None, Query(max_length=100, description="`asc` or `desc`")] = None,
) -> Page[TaskView]:
    """R-UI-5: `q` searches, `sort` and `order` sort; checked by `domain.list_order`, whose 422s say what
    to send instead (so the lengths here are only a ceiling)."""
    who = caller(app)
    listing = domain.list_order(sort, order, q)
    sees_all = who.has_any(*VIEW_ALL_ROLES)
    if assignee_id == "me":
        target: str | None = who.employee_id
    elif assignee_id:
        target = assignee_id.lower()
    else:
        target = None if sees_all else who.employee_id
    if not sees_all and target != who.employee_id:
        raise Forbidden("workers see their own tasks; only managers and admins see other popugs' tasks")
    tasks, next_cursor = store.list_tasks(
        assignee_id=target,
        status=status,
        limit=limit,
        cursor=cursor,
        now_epoch=clock.epoch_seconds(),
        order=listing,
    )
    return {"items": [t.public() for t in tasks], "next_cursor": next_cursor}


@app.get("/tasks/<task_id>", responses=errors(NOT_YOURS, 404))
def get_task(task_id: PathId) -> TaskDetailView:
    who = caller(app)
    task, history, _ = _visible(task_id)
    if task.assignee_id != who.employee_id and not who.has_any(*VIEW_ALL_ROLES):
        raise Forbidden("this task is assigned to another popug; only managers and admins see other popugs' tasks")
    return {**task.public(), "history": [entry.public() for entry in history]}


@app.post(
    "/tasks/<task_id>/complete",
    responses=errors(404, (409, "already done (`already_done`), assigned to someone else (`not_assignee`), or `busy`")),
)
def complete_task(task_id: PathId) -> TaskView:
    """R-TASK-4: the write is conditional on the task being open and the caller's at that moment, so a
    shuffle committing first makes this a clean `not_assignee`, and a completion committing first makes
    the shuffle skip the task."""
    who = caller(app)
    for attempt in range(ATTEMPTS):
        task, history, price_item = _visible(task_id)
        if task.status == "done":
            raise Conflict("this task is already done", code="already_done")
        if task.assignee_id != who.employee_id:
            raise Conflict(
                "only the popug this task is assigned to now can complete it (it may have been shuffled to "
                "someone else)",
                code="not_assignee",
            )
        now = clock.now()
        done = replace(
            task, status="done", completed_at=clock.iso(now),
            expires_at=int(now.timestamp()) + domain.RETENTION_AFTER_COMPLETION_SECONDS,
        )  # fmt: skip
        try:
            store.complete_task(done, [events.completed(done, _correlation_id())], history, price_item)
        except store.CompletionRefused:
            continue  # completed or shuffled meanwhile: read it again to say which
        except ClientError as error:
            if _conflicted(error, attempt):
                continue
            raise
        logger.info("task completed", task_id=task_id)
        return done.public()
    raise Conflict("this task kept changing while completing it; try again", code="busy")


# --- shuffle -------------------------------------------------------------------------------------


@app.post(
    "/tasks/shuffle",
    **only(*VIEW_ALL_ROLES),
    status_code=202,
    response_description="the shuffle started; GET /tasks/shuffles/{job_id} follows it",
    responses=errors((409, f"{NO_ASSIGNEE}, or a shuffle is running (`shuffle_running`, with its `job_id`)")),
)
def shuffle() -> Response[ShuffleJobView]:
    who = caller(app)
    if not store.pool_ids():
        raise _no_assignee("nothing was reassigned")
    now = clock.now()
    started = clock.iso(now)
    job = ShuffleJob(
        job_id=str(uuid.uuid4()), status="running", total=None, started_at=started,
        started_by=who.employee_id, before=started, updated_at=started,
    )  # fmt: skip
    try:
        store.start_job(job)
    except store.ShuffleLocked:
        _take_over_or_refuse(job, now)
    logger.info("shuffle started", job_id=job.job_id, total=job.total)
    return answer(202, job.public())


def _take_over_or_refuse(job: ShuffleJob, now: Any) -> None:
    """A second shuffle while one runs is refused, unless the running one made no progress for a long
    time (its function kept failing past its retries): then it is marked failed and this one starts."""
    running_id = store.running_job_id()
    running = store.get_job(running_id) if running_id else None
    if running is None:  # the lock went away meanwhile
        try:
            store.start_job(job)
            return
        except store.ShuffleLocked:
            raise Conflict("another shuffle has just started; wait for it to finish", code="shuffle_running") from None
    last_progress = running.updated_at or running.started_at
    idle = now.timestamp() - _epoch(last_progress)
    if running.status == "running" and idle < settings().shuffle_stale_seconds:
        raise Conflict(
            f"a shuffle is already running (job {running.job_id}: {running.done} of "
            f"{'(counting)' if running.total is None else running.total} tasks reassigned); wait for it to finish",
            code="shuffle_running",
            details={"job_id": running.job_id},
        )
    reason = f"abandoned: no progress for {int(idle)} s; shuffle {job.job_id} took over"
    try:
        store.take_over(running, job, reason, clock.iso(now), int(now.timestamp()))
    except store.ShuffleLocked:
        raise Conflict(
            f"a shuffle is already running (job {running.job_id}); wait for it to finish",
            code="shuffle_running",
            details={"job_id": running.job_id},
        ) from None
    logger.warning("took over a stalled shuffle", stale_job_id=running.job_id, job_id=job.job_id)


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@app.get("/tasks/shuffles/<job_id>", **only(*VIEW_ALL_ROLES), responses=errors(404))
def get_shuffle(job_id: PathId) -> ShuffleJobView:
    job = store.get_job(job_id)
    if job is None:
        raise NotFound(f"no shuffle {job_id}")
    return job.public()


@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
