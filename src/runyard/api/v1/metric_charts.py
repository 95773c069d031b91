"""``/api/v1/metrics/downsample``: metric series reduced to a chart's pixel width (M4), for the web UI."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import query
from runyard.api.requests import parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.services import metric_downsample as service

router = APIRouter(prefix="/metrics", tags=["metric-charts"])


class DownsampleQuery(BaseModel):
    run_id: list[str] = Field(default_factory=list, description="One or more runs (repeat the parameter).")
    key: list[str] = Field(default_factory=list, description="One or more metric keys (repeat the parameter).")
    width: int = Field(default=1000, description="The chart's plot width in pixels.")
    x: service.XAxis = service.XAxis.STEP
    x_min: float | None = Field(default=None, description="Visible range start, in the x axis' unit.")
    x_max: float | None = Field(default=None, description="Visible range end, in the x axis' unit.")
    min_step: int | None = Field(default=None, description="Same as x_min on the step axis.")
    max_step: int | None = Field(default=None, description="Same as x_max on the step axis.")
    smoothing: float = Field(default=0.0, description="EMA weight in [0, 1), applied before bucketing.")


def _series_json(series: service.SeriesResult) -> dict[str, Any]:
    return {
        "run_id": series.run_id,
        "key": series.key,
        "total_points": series.total_points,
        "points_in_range": series.points_in_range,
        "returned": len(series.x),
        "downsampled": series.downsampled,
        "x": series.x,
        "y": series.y,
        "step": series.step,
        "markers": [{"x": x, "step": step, "kind": kind} for x, step, kind in series.markers],
    }


@router.get(
    "/downsample",
    dependencies=[access.requires("run", Level.READ, jobs=True)],
    openapi_extra=query(DownsampleQuery),
)
async def downsample(request: Request) -> Response:
    """Per pixel column the first, last, min and max point of each series (raw when ≤ 4·width points)."""
    query = parse_query(request, DownsampleQuery)
    x_min = query.x_min
    x_max = query.x_max
    if query.x is service.XAxis.STEP:
        x_min = float(query.min_step) if query.min_step is not None and x_min is None else x_min
        x_max = float(query.max_step) if query.max_step is not None and x_max is None else x_max
    result = await platform_of(request).read(
        lambda connection: service.downsample_metrics(
            connection,
            query.run_id,
            query.key,
            width=query.width,
            axis=query.x,
            x_min=x_min,
            x_max=x_max,
            smoothing=query.smoothing,
        )
    )
    return JSONResponse(
        {
            "x": result.x_axis.value,
            "width": result.width,
            "x_min": result.x_min,
            "x_max": result.x_max,
            "series": [_series_json(series) for series in result.series],
        }
    )
