"""``/api/3.0/mlflow/scorers``: MLflow's registered-scorer API and its online scoring configurations.

A scorer follows its experiment: reading needs READ on it, registering or deleting EDIT. Listing
without an experiment shows the scorers of every experiment the caller may read.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.openapi import json_body, query
from runyard.api.openapi import request as request_schema
from runyard.api.requests import parse_json, parse_query, read_json_object, validate
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from runyard.errors import InvalidParameter
from runyard.services import scorers as service

router = APIRouter(prefix="/scorers", tags=["mlflow-scorers"])

READ = [access.requires("experiment", Level.READ)]
EDIT = [access.requires("experiment", Level.EDIT)]


class ScorerRegister(BaseModel):
    experiment_id: str | None = None
    name: str | None = None
    serialized_scorer: str | None = None


class ScorerList(BaseModel):
    experiment_id: str | None = None
    experiment_ids: list[str] | None = None


class ScorerName(BaseModel):
    experiment_id: str | None = None
    name: str | None = None


class ScorerRef(BaseModel):
    experiment_id: str | None = None
    name: str | None = None
    version: int | None = None


class OnlineConfigsQuery(BaseModel):
    scorer_ids: list[str] | None = None


class OnlineConfigUpsert(BaseModel):
    experiment_id: str | None = None
    name: str | None = None
    sample_rate: float | None = None
    filter_string: str | None = None


def scorer_json(scorer: ScorerVersion) -> dict[str, Any]:
    return {
        "experiment_id": int(scorer.experiment_id),
        "scorer_name": scorer.scorer_name,
        "scorer_version": scorer.scorer_version,
        "serialized_scorer": scorer.serialized_scorer,
        "creation_time": scorer.creation_time,
        "scorer_id": scorer.scorer_id,
    }


def config_json(config: OnlineScoringConfig) -> dict[str, Any]:
    body: dict[str, Any] = {
        "online_scoring_config_id": config.online_scoring_config_id,
        "scorer_id": config.scorer_id,
        "sample_rate": config.sample_rate,
        "experiment_id": config.experiment_id,
    }
    if config.filter_string is not None:
        body["filter_string"] = config.filter_string
    return body


async def _params(request: Request, model: type[ScorerRef]) -> ScorerRef:
    """GET calls carry their fields in the query string, DELETE in the body (or the query string)."""
    if request.method == "GET":
        return parse_query(request, model)
    data = await read_json_object(request)
    for key in request.query_params:
        data.setdefault(key, request.query_params[key])
    return validate(model, data)


@router.post("/register", dependencies=EDIT, openapi_extra=json_body(ScorerRegister))
async def register_scorer(request: Request) -> Response:
    """Register a serialized scorer as the next version of its name in an experiment."""
    body = await parse_json(request, ScorerRegister)
    scorer = await platform_of(request).write(
        lambda c: service.register_scorer(c, body.experiment_id, body.name, body.serialized_scorer)
    )
    return JSONResponse(
        {
            "version": scorer.scorer_version,
            "scorer_id": scorer.scorer_id,
            "experiment_id": scorer.experiment_id,
            "name": scorer.scorer_name,
            "serialized_scorer": scorer.serialized_scorer,
            "creation_time": scorer.creation_time,
        }
    )


@router.get(
    "/list", dependencies=[access.requires("experiment", Level.READ, listing=True)], openapi_extra=query(ScorerList)
)
async def list_scorers(request: Request) -> Response:
    """The latest version of each scorer of an experiment (or of several, or of every readable one)."""
    body = parse_query(request, ScorerList)
    experiment_ids = (
        request.query_params.getlist("experiment_ids") if "experiment_ids" in request.query_params else None
    )
    readable = access.readable_of(request)
    scorers = await platform_of(request).read(
        lambda c: service.list_scorers(
            c, experiment_id=body.experiment_id, experiment_ids=experiment_ids, readable=readable
        )
    )
    return JSONResponse({"scorers": [scorer_json(s) for s in scorers]})


@router.get("/versions", dependencies=READ, openapi_extra=query(ScorerName))
async def list_scorer_versions(request: Request) -> Response:
    """Every version of one scorer, oldest first."""
    body = parse_query(request, ScorerName)
    versions = await platform_of(request).read(lambda c: service.list_scorer_versions(c, body.experiment_id, body.name))
    return JSONResponse({"scorers": [scorer_json(s) for s in versions]})


@router.get("/get", dependencies=READ, openapi_extra=query(ScorerRef))
async def get_scorer(request: Request) -> Response:
    """One version of a scorer (the latest when no version is named)."""
    body = await _params(request, ScorerRef)
    scorer = await platform_of(request).read(
        lambda c: service.get_scorer(c, body.experiment_id, body.name, body.version)
    )
    return JSONResponse({"scorer": scorer_json(scorer)})


@router.delete("/delete", dependencies=EDIT, openapi_extra=request_schema(ScorerRef, "DELETE"))
async def delete_scorer(request: Request) -> Response:
    """Delete one version of a scorer, or the scorer with all its versions."""
    body = await _params(request, ScorerRef)
    await platform_of(request).write(lambda c: service.delete_scorer(c, body.experiment_id, body.name, body.version))
    return JSONResponse({})


@router.get("/online-configs", dependencies=READ, openapi_extra=query(OnlineConfigsQuery))
async def get_online_scoring_configs(request: Request) -> Response:
    """The online scoring configurations of scorers, by scorer id."""
    body = parse_query(request, OnlineConfigsQuery)
    if not body.scorer_ids:
        raise InvalidParameter("Missing value for required parameter 'scorer_ids'.")
    scorer_ids = body.scorer_ids
    configs = await platform_of(request).read(lambda c: service.online_configs(c, scorer_ids))
    return JSONResponse({"configs": [config_json(config) for config in configs]})


@router.put("/online-config", dependencies=EDIT, openapi_extra=json_body(OnlineConfigUpsert))
async def upsert_online_scoring_config(request: Request) -> Response:
    """Set a scorer's online scoring configuration (sample rate and trace filter)."""
    data = await read_json_object(request)
    body = validate(OnlineConfigUpsert, {k: v for k, v in data.items() if k != "sample_rate"})
    if "sample_rate" not in data:
        raise InvalidParameter("Missing value for required parameter 'sample_rate'.")
    config = await platform_of(request).write(
        lambda c: service.upsert_online_config(
            c, body.experiment_id, body.name, data["sample_rate"], body.filter_string
        )
    )
    return JSONResponse({"config": config_json(config)})
