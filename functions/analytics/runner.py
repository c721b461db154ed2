"""Running a guarded query for the console and for a saved metric (R-AN-3, R-AN-6): one answer shape
`{columns, rows, truncated, elapsed_ms}`, one set of errors (422 `query_timeout`, `query_failed`), and
the `?format=csv` option both routes document (the CSV itself is made from this answer on the way out,
shared.csv_export)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from analytics import console, domain, query
from analytics.settings import get as settings
from shared import http
from shared.errors import Unprocessable
from shared.http import ResponseModel
from shared.observability import logger

MAX_ROWS = 1000
Format = http.Format
csv_too = http.csv_too


class QueryResultView(ResponseModel):
    columns: list[str]
    rows: list[list[Any]] = Field(description="cells as JSON: dates and times in ISO 8601, NaN as null")
    truncated: bool
    elapsed_ms: int


def row_limit(asked: int | None) -> int:
    return min(asked or settings().query_max_rows, settings().query_max_rows)


def run(guarded: console.Guarded, limit: int, who: str, **context: Any) -> dict[str, Any]:
    timeout = settings().query_timeout_seconds
    logger.info("analytics query", caller=who, sql=guarded.sql[:2000], **context)
    try:
        result = query.run(guarded.sql, max_rows=limit, timeout_seconds=timeout)
    except query.QueryTimeout:
        raise Unprocessable(
            f"the query ran longer than {timeout} s and was stopped; narrow it (fewer days, a WHERE on "
            "business_day, fewer rows) and try again",
            code="query_timeout",
        ) from None
    except query.QueryFailed as error:
        raise Unprocessable(f"the query failed: {str(error)[:1000]}", code="query_failed") from None
    rows = [[domain.jsonable(v) for v in row] for row in result.rows[:limit]]
    truncated = bool(result.truncated) or len(result.rows) > limit
    return {"columns": list(result.columns), "rows": rows, "truncated": truncated,
            "elapsed_ms": int(result.elapsed_ms)}  # fmt: skip
