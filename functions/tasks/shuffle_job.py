"""Shuffle job (R-TASK-3): the job item's stream record drives one step, and the step's commit records
the job's progress, whose stream record drives the next step, until every open task is reassigned.
The first step only counts the open tasks (the job's `total`), so the press itself does no O(N) work.

A step reads the job and the pool (one BatchGetItem), one Query page of the open-tasks index after the
job's cursor, and commits the reassignments 49 tasks per transaction (each with its history entry), with ONE outbox item
holding their 49 TaskAssigned("shuffle") events; the step's last transaction also carries the job's new cursor
and counts. So a step is all-or-nothing per transaction, and the job's progress moves only with the
step's last batch.

Crash safety: a step that dies halfway is retried by the stream from the last recorded progress. Every
task update sets `shuffled_by` to the job and is conditional on the task being open, still held by the
assignee the job read, and not yet reassigned by this job; so a retried step skips what it already did
and never reassigns a task twice for one job. A completion that commits first makes the condition fail:
the job re-reads just those tasks and retries the batch without the completed ones (R-TASK-4). A stale or
duplicate record is recognised by the job's `step` and does nothing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from botocore.exceptions import ClientError

from shared import clock, dynamo
from shared.events import stream_jobs
from shared.observability import logger, tracer
from tasks import domain, events, store
from tasks.domain import Reassignment, ShuffleJob
from tasks.settings import get as settings

rng: random.Random = random.SystemRandom()  # injectable for tests
# Each reassignment is two actions (the task, and its history entry for the task page, R-UI-4), beside the
# transaction's one outbox item: 49 tasks in a transaction of 100 actions.
ACTIONS_PER_TASK = 2
BATCH = (dynamo.MAX_TRANSACTION_ACTIONS - 1) // ACTIONS_PER_TASK
MAX_ATTEMPTS = 6

Tail = Callable[[int, int], list[dict[str, Any]]]


@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return stream_jobs.drive(event, _running_job, run_step)


def _running_job(item: dict[str, Any]) -> tuple[str, int, ShuffleJob] | None:
    if not item.get("pk", "").startswith(store.JOB_PREFIX):
        return None
    job = store.job_from(item)
    return (job.job_id, job.step, job) if job.status == "running" else None


def run_step(seen: ShuffleJob, chunk: int | None = None) -> str:
    """One step of the job as the stream record `seen` shows it; returns what happened (for logs and tests)."""
    chunk = chunk or settings().shuffle_chunk_tasks
    job, pool = store.job_and_pool(seen.job_id)
    if job is None or job.status != "running" or job.step != seen.step:
        logger.info("stale shuffle record ignored", job_id=seen.job_id, step=seen.step)
        return "stale"
    if job.total is None:
        # Counting is O(open tasks): done here, in the job, so the press answers at once however many.
        try:
            dynamo.transact(store.counted_actions(job, store.count_open_before(job.before), _now()[0]))
        except ClientError as error:
            if "ConditionalCheckFailed" not in dynamo.cancellation_codes(error):
                raise
            return "stale"
        return "counted"
    page, next_cursor = store.open_tasks_page(job.before, job.cursor, chunk)
    final = next_cursor is None
    if not pool and any(task.shuffled_by != job.job_id for task in page):
        dynamo.transact(store.fail_actions(job, "no active assignee left to shuffle to", *_now()))
        logger.warning("shuffle failed: the assignee pool is empty", job_id=job.job_id)
        return "failed"
    plan, already = domain.plan_reassignments(page, job.job_id, pool, rng) if pool else ([], len(page))
    tail_actions = 2 if final else 1  # the job's progress (and, at the end, the lock's release)
    groups = domain.batches(plan, BATCH, (dynamo.MAX_TRANSACTION_ACTIONS - 1 - tail_actions) // ACTIONS_PER_TASK)
    done, skipped = job.done + already, job.skipped

    def tail(done_after: int, skipped_after: int) -> list[dict[str, Any]]:
        now, now_epoch = _now()
        return store.progress_actions(
            job, cursor=next_cursor, done=done_after, skipped=skipped_after, final=final, now=now, now_epoch=now_epoch
        )

    for index, group in enumerate(groups):
        outcome = _commit(job, group, tail if index == len(groups) - 1 else None, done, skipped)
        if outcome is None:
            logger.info("the job moved on meanwhile; this run stops", job_id=job.job_id, step=job.step)
            return "stale"
        done, skipped = outcome
    logger.info("shuffle step committed", job_id=job.job_id, step=job.step + 1, done=done, final=final)
    return "finished" if final else "stepped"


def _commit(job: ShuffleJob, group: list[Reassignment], tail: Tail | None, done: int, skipped: int):
    """Commit one batch (and, for the step's last, the job's progress); re-read and retry the tasks whose
    condition failed. Returns the running (done, skipped) counts, or None if the job's own condition
    failed (it moved on: nothing of this run may count)."""
    pending = list(group)
    attempt = 0  # attempts that did not shrink the batch: each completion found shrinks it, for free
    while attempt < MAX_ATTEMPTS:
        at, _ = _now()
        actions = [store.reassign_action(change, job.job_id, at) for change in pending]
        actions += [store.history_action(_shuffled(change, job.job_id, at)) for change in pending]
        if pending:
            actions.append(store.outbox_action(
                [events.assigned(c.task_id, c.new_assignee, "shuffle", job.job_id) for c in pending]
            ))  # fmt: skip
        tail_start = len(actions)
        if tail is not None:
            actions += tail(done + len(pending), skipped)
        if not actions:
            return done, skipped
        try:
            dynamo.transact(actions)
            return done + len(pending), skipped
        except ClientError as error:
            codes = dynamo.cancellation_codes(error)
            if not codes:
                raise
        if "ConditionalCheckFailed" in codes[tail_start:]:
            return None
        if "TransactionConflict" in codes:
            time.sleep(0.02 * 2**attempt)
        failed = {pending[i].task_id for i, code in enumerate(codes[: len(pending)]) if code not in ("None", "")}
        # (the history puts are unconditional: only the task updates, first in the list, can fail)
        if not failed:
            attempt += 1
            continue
        current = store.tasks_by_ids(failed)
        kept = []
        for change in pending:
            task = current.get(change.task_id) if change.task_id in failed else None
            if change.task_id not in failed:
                kept.append(change)
            elif task is None or task.status != "open":
                skipped += 1  # completed before the job reached it: never also reassigned (R-TASK-4)
            elif task.shuffled_by == job.job_id:
                done += 1  # an earlier run of this step did it (the index had not caught up)
            else:
                kept.append(replace(change, old_assignee=task.assignee_id))
        attempt += 1 if len(kept) == len(pending) else 0
        pending = kept
    raise RuntimeError(f"a shuffle batch was cancelled {MAX_ATTEMPTS} times; the stream retries the step")


def _shuffled(change: Reassignment, job_id: str, at: str) -> domain.HistoryEntry:
    return domain.HistoryEntry(change.task_id, at, "shuffled", change.new_assignee, job_id)


def _now() -> tuple[str, int]:
    moment = clock.now()
    return clock.iso(moment), int(moment.timestamp())
