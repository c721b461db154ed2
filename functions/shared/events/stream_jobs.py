"""The driver shared by jobs whose own item's stream record runs their next step (the tasks shuffle, the
accounting day close): of the records in a batch, only the newest of each live job runs (older ones show
steps already taken), and a failed step is reported so the stream retries it from that record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from shared import dynamo
from shared.observability import logger

Job = TypeVar("Job")


def drive(
    event: dict[str, Any],
    live_job: Callable[[dict[str, Any]], tuple[str, int, Job] | None],
    run_step: Callable[[Job], Any],
) -> dict[str, Any]:
    """`live_job(item)` gives (job key, step, job) for a record of a job that is still running, else None."""
    latest: dict[str, tuple[int, Job, str]] = {}
    for record in event.get("Records", []):
        stream = record.get("dynamodb", {})
        image = stream.get("NewImage")
        found = live_job(dynamo.from_item(image)) if image else None
        if found is None:
            continue
        key, step, job = found
        if key not in latest or step >= latest[key][0]:
            latest[key] = (step, job, stream["SequenceNumber"])
    failures = []
    for key, (step, job, sequence) in latest.items():
        try:
            run_step(job)
        except Exception:
            logger.exception("job step failed; the stream retries it", job=key, step=step)
            failures.append({"itemIdentifier": sequence})
    return {"batchItemFailures": failures}
