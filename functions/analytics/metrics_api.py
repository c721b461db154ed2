"""Saved metrics over HTTP (R-AN-6, SPEC §11), admins only, included in the analytics API:

    GET|POST /analytics/metrics, GET|PUT|DELETE /analytics/metrics/{id}, POST /analytics/metrics/{id}/run

A metric is checked by the console's guard when saved (bad SQL, DDL, a foreign table: 422
`query_refused`, nothing kept) and again on every run with its parameters bound; a run answers what the
console answers (`{columns, rows, truncated, elapsed_ms}`, `?format=csv` for a download).
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, ConfigDict, Field

from analytics import console, domain, metric_store, metrics, runner
from analytics.settings import get as settings
from shared import clock, pagination
from shared.http import PathId, ResponseModel, answer, caller, errors, only
from shared.responses import Page

router = Router()
ADMINS = only(*domain.ROLES)
MetricId = PathId  # a malformed id is a 422, never a lookup


class MetricView(ResponseModel):
    metric_id: str
    name: str
    description: str
    sql: str
    parameters: list[metrics.Parameter]
    chart: metrics.Chart
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    params: dict[str, str | None] = Field(
        default_factory=dict, max_length=metrics.MAX_PARAMETERS,
        description="a date per parameter (`{from, to}`); a parameter left out takes its default",
    )  # fmt: skip
    max_rows: int | None = Field(default=None, ge=1, le=runner.MAX_ROWS)


def _table() -> str:
    return settings().metrics_table


def _today() -> Any:
    return domain.today(clock.now(), settings().business_timezone)


@router.get("/analytics/metrics", **ADMINS)
def list_metrics(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.MAX_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Page[MetricView]:
    items, next_cursor = metric_store.page(_table(), limit, cursor)
    return {"items": items, "next_cursor": next_cursor}


@router.post("/analytics/metrics", **ADMINS, status_code=201)
def create_metric(metric: metrics.MetricInput) -> MetricView:
    metrics.check(metric, _today(), settings().query_max_rows)
    return answer(201, metric_store.create(_table(), metric, caller(router).employee_id))


@router.get("/analytics/metrics/<metric_id>", **ADMINS, responses=errors(404))
def get_metric(metric_id: MetricId) -> MetricView:
    return metric_store.view(metric_store.get(_table(), metric_id))


@router.put("/analytics/metrics/<metric_id>", **ADMINS, responses=errors(404))
def replace_metric(metric_id: MetricId, metric: metrics.MetricInput) -> MetricView:
    metrics.check(metric, _today(), settings().query_max_rows)
    return metric_store.replace(_table(), metric_id, metric, caller(router).employee_id)


@router.delete("/analytics/metrics/<metric_id>", **ADMINS, status_code=204, responses=errors(404))
def delete_metric(metric_id: MetricId) -> Response[None]:
    metric_store.delete(_table(), metric_id)
    return Response(status_code=204)


@router.post("/analytics/metrics/<metric_id>/run", **runner.csv_too(ADMINS), responses=errors(404))
def run_metric(
    metric_id: MetricId,
    request: RunRequest,  # `{}` runs with the defaults; a body that is not an object is a 422, as everywhere
    format: runner.Format = None,
) -> runner.QueryResultView:
    saved = metrics.MetricInput.model_validate(
        {k: v for k, v in metric_store.view(metric_store.get(_table(), metric_id)).items()
         if k in metrics.MetricInput.model_fields}
    )  # fmt: skip
    values = metrics.resolve(saved.parameters, request.params, _today())
    limit = runner.row_limit(request.max_rows)
    guarded = console.guard(metrics.bind(saved.sql, values), limit)
    return runner.run(guarded, limit, caller(router).employee_id, metric_id=metric_id)
