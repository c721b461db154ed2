"""The schedule's daily close (R-ACC-5): shortly after midnight in the business timezone, close every day
that is still open up to yesterday, in order (one job that goes on day by day if the stack was down)."""

from __future__ import annotations

from typing import Any

from accounting import closing
from shared import clock
from shared.observability import logger, tracer

SCHEDULER = "schedule"


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now = clock.now()
    yesterday = closing.yesterday(now)
    calendar = closing.calendar_for(now)
    if calendar.next_open > yesterday:
        logger.info("nothing to close", next_open=calendar.next_open.isoformat())
        return {"closing": None}
    job = closing.request_close(
        calendar.next_open, SCHEDULER, now, close_through=yesterday, correlation_id=context.aws_request_id
    )
    logger.info("daily close", business_day=job.business_day, through=yesterday.isoformat(), status=job.status)
    return {"closing": job.business_day, "through": yesterday.isoformat(), "status": job.status}
