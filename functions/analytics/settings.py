"""What the analytics functions read from their environment (set in template.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from shared import settings


@dataclass(frozen=True)
class AnalyticsSettings:
    lake_bucket: str
    business_timezone: str = "UTC"
    # R-AN-4: "athena" in AWS; "duckdb" runs the same SQL (translated by sqlglot) over the same objects.
    analytics_query_engine: str = "athena"
    glue_database: str = ""
    athena_workgroup: str = ""
    query_max_rows: int = 1000
    query_timeout_seconds: int = 20
    metrics_table: str = ""  # R-AN-6: saved metrics (only the API function has it)
    analytics_horizon_days: int = 365  # R-AN-5: the lake's lifecycle (the compaction trims roll-ups to it)


@cache
def get() -> AnalyticsSettings:
    return settings.load(AnalyticsSettings)


@dataclass(frozen=True)
class _Zone:
    business_timezone: str = "UTC"


def business_timezone() -> str:
    """The business timezone alone: the table definitions need it (tables.LogicalTable.lead) wherever they
    are used, also where no lake is configured (the schema generator, pure tests)."""
    return settings.load(_Zone).business_timezone
