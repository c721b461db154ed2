"""Starting a day's close (R-ACC-5), for an admin's request and for the schedule alike.

Days close in order from the first day the system ran. Asking to close a day that is closed already, or
closing now, answers with that day as it stands (the close is idempotent: it pays nothing more); a close
that made no progress for a while (its step kept failing past its retries) is nudged on instead.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from botocore.exceptions import ClientError

from accounting import domain, store
from accounting.domain import Calendar, DayClose
from accounting.settings import get as settings
from shared import clock
from shared.errors import Conflict
from shared.observability import logger


def request_close(
    day: date, who: str, now: datetime, close_through: date | None = None, correlation_id: str | None = None
) -> DayClose:
    today = domain.local_day(now, settings().business_timezone)
    calendar = store.ensure_calendar(today)
    if day < calendar.next_open and day >= calendar.first_day:
        return store.get_close(day.isoformat()) or DayClose(business_day=day.isoformat(), status="closed")
    refusal = domain.close_refusal(day, today, calendar)
    if refusal:
        raise Conflict(refusal.message, code=refusal.code, details=dict(refusal.details))
    if calendar.closing == day:
        return _nudge_if_stalled(day, now)
    started = clock.iso(now)
    job = DayClose(
        business_day=day.isoformat(), status="closing", started_at=started, started_by=who, updated_at=started,
        close_through=(close_through or day).isoformat(), correlation_id=correlation_id,
    )  # fmt: skip
    try:
        store.start_close(job)
    except store.CloseRefused:
        # Another request started it (or finished it) in between: answer with the day as it is now.
        return store.get_close(day.isoformat()) or job
    logger.info("day close started", business_day=job.business_day, started_by=who)
    return job


def _nudge_if_stalled(day: date, now: datetime) -> DayClose:
    job = store.get_close(day.isoformat())
    if job is None or job.status != "closing":
        return job or DayClose(business_day=day.isoformat(), status="closing")
    idle = (
        now.timestamp()
        - datetime.fromisoformat((job.updated_at or job.started_at or "").replace("Z", "+00:00")).timestamp()
    )
    if idle >= settings().close_stale_seconds:
        try:
            store.nudge_close(job, clock.iso(now))
            logger.warning("nudged a stalled day close", business_day=job.business_day, idle_seconds=int(idle))
        except ClientError:
            logger.info("the close moved meanwhile; no nudge needed", business_day=job.business_day)
    return job


def calendar_for(now: datetime) -> Calendar:
    return store.ensure_calendar(domain.local_day(now, settings().business_timezone))


def yesterday(now: datetime) -> date:
    return domain.local_day(now, settings().business_timezone) - timedelta(days=1)
