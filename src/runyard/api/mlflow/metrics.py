"""``/api/2.0/mlflow/metrics/*``: metric history, paged and sampled."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.serializers import metric_json
from runyard.api.openapi import query
from runyard.api.requests import parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.services import metric_history

router = APIRouter(prefix="/metrics", tags=["mlflow-metrics"])


class HistoryQuery(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None
    metric_key: str | None = None
    page_token: str | None = None
    max_results: int | None = None


class BulkIntervalQuery(BaseModel):
    run_ids: list[str] = Field(default_factory=list)
    metric_key: str | None = None
    start_step: int | None = None
    end_step: int | None = None
    max_results: int | None = None


@router.get(
    "/get-history", dependencies=[access.requires("run", Level.READ, jobs=True)], openapi_extra=query(HistoryQuery)
)
async def get_history(request: Request) -> Response:
    """Every point of one metric of one run, in step order (paged with max_results)."""
    query = parse_query(request, HistoryQuery)
    page = await platform_of(request).read(
        lambda c: metric_history.get_metric_history(
            c,
            query.run_id or query.run_uuid,
            query.metric_key,
            page_token=query.page_token,
            max_results=query.max_results,
        )
    )
    data: dict[str, Any] = {"metrics": [metric_json(m) for m in page.metrics]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.get(
    "/get-history-bulk-interval",
    dependencies=[access.requires("run", Level.READ, jobs=True)],
    openapi_extra=query(BulkIntervalQuery),
)
async def get_history_bulk_interval(request: Request) -> Response:
    """One metric across up to 100 runs, sampled to max_results points per run (for charts)."""
    query = parse_query(request, BulkIntervalQuery)
    points = await platform_of(request).read(
        lambda c: metric_history.get_metric_history_bulk_interval(
            c,
            query.run_ids,
            query.metric_key,
            start_step=query.start_step,
            end_step=query.end_step,
            max_results=query.max_results,
        )
    )
    return JSONResponse({"metrics": [metric_json(m) for m in points]})
