"""``/ajax-api/2.0/mlflow/runs/create-promptlab-run``: the run MLflow's prompt-engineering UI records."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.auth._deps import recorded_user
from runyard.api.deps import platform_of
from runyard.api.mlflow.serializers import run_json
from runyard.api.openapi import json_body
from runyard.api.requests import parse_json
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Param, Tag
from runyard.services import promptlab as service

router = APIRouter(tags=["mlflow-runs"])


class KeyValue(BaseModel):
    key: str = Field(max_length=1000)
    value: str | int | float | bool | None = None


class PromptlabRunCreate(BaseModel):
    experiment_id: str | None = None
    run_name: str | None = None
    tags: list[KeyValue] = Field(default_factory=list)
    prompt_template: str | None = None
    prompt_parameters: list[KeyValue] = Field(default_factory=list)
    model_route: str | None = None
    model_parameters: list[KeyValue] = Field(default_factory=list)
    model_input: str | None = None
    model_output: str | None = None
    model_output_parameters: list[KeyValue] = Field(default_factory=list)
    mlflow_version: str | None = None
    user_id: str | None = None
    start_time: int | None = None


def _params(items: list[KeyValue]) -> list[Param]:
    return [Param(item.key, "" if item.value is None else str(item.value)) for item in items]


@router.post(
    "/ajax-api/2.0/mlflow/runs/create-promptlab-run",
    dependencies=[access.requires("experiment", Level.EDIT)],
    openapi_extra=json_body(PromptlabRunCreate),
)
async def create_promptlab_run(request: Request) -> Response:
    """Record one prompt tried against a gateway route as a finished run with its evaluation table."""
    body = await parse_json(request, PromptlabRunCreate)
    spec = service.PromptlabRun(
        experiment_id=body.experiment_id or "",
        prompt_template=body.prompt_template or "",
        prompt_parameters=_params(body.prompt_parameters),
        model_route=body.model_route or "",
        model_input=body.model_input or "",
        mlflow_version=body.mlflow_version or "",
        run_name=body.run_name,
        tags=[Tag(t.key, "" if t.value is None else str(t.value)) for t in body.tags],
        model_parameters=_params(body.model_parameters),
        model_output=body.model_output,
        model_output_parameters=_params(body.model_output_parameters),
        user_id=recorded_user(request, body.user_id) or "unknown",
        start_time=body.start_time,
    )
    platform = platform_of(request)
    run = await service.create_promptlab_run(platform.write, platform.artifacts, spec)
    return JSONResponse({"run": run_json(run)})
