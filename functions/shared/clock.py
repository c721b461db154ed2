"""One place that says what time it is, so tests can pin it and every timestamp has one format."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def epoch_seconds() -> int:
    return int(time.time())


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, the format of every time in the API and the events."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
