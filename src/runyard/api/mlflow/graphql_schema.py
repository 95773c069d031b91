"""MLflow's GraphQL schema over runyard's services: the queries MLflow's web UI and clients send.

The schema (``graphql_schema.graphql``) keeps MLflow's names. Each root field resolves to the JSON
MLflow's REST API returns for the same call, built by the same services and serializers, after the
same permission check as the REST route; nested fields read those dicts (a camelCase field reads its
snake_case key). A field the caller may not read, or whose call fails, is ``null`` with the message in
the response's ``errors``, as in MLflow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLFloat,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    IntValueNode,
    StringValueNode,
    ValueNode,
    build_schema,
)
from sqlalchemy import Connection
from starlette.requests import Request

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.registry_serializers import model_version_json
from runyard.api.mlflow.serializers import experiment_json, metric_json, run_json
from runyard.domain.identity import Level
from runyard.domain.tracking import ViewType
from runyard.errors import RunyardError
from runyard.services import artifacts as artifact_service
from runyard.services import dataset_summaries, metric_history, registry_search, search_runs
from runyard.services import experiments as experiment_service
from runyard.services import runs as run_service
from runyard.services.access_checks import Target

Resolved = dict[str, Any] | None


@dataclass
class Context:
    """One GraphQL request: the HTTP request it came in (principal, platform) and per-request caches."""

    request: Request
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def read(self, work: Callable[[Connection], Any]) -> Any:
        return await platform_of(self.request).read(work)

    async def authorize(self, resource: str, level: Level, target: Target) -> None:
        await access.authorize(self.request, resource, level, target)


def _context(info: GraphQLResolveInfo) -> Context:
    context: Context = info.context
    return context


def _input(arguments: dict[str, Any]) -> dict[str, Any]:
    value = arguments.get("input")
    return value if isinstance(value, dict) else {}


def _reported(resolve: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A domain error becomes a GraphQL error on the field (its message), never a server error."""

    async def run(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        try:
            return await resolve(source, info, **arguments)
        except RunyardError as error:
            raise GraphQLError(error.message) from None

    return run


# --- root fields ---


@_reported
async def get_experiment(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    experiment_id = _input(arguments).get("experimentId")
    await context.authorize("experiment", Level.READ, Target(experiment_id=experiment_id))
    experiment = await context.read(lambda c: experiment_service.get_experiment(c, experiment_id))
    return {"experiment": experiment_json(experiment)}


def _run_id(given: dict[str, Any]) -> str | None:
    run_id = given.get("runId") or given.get("runUuid")
    return str(run_id) if run_id is not None else None


@_reported
async def get_run(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    run_id = _run_id(_input(arguments))
    await context.authorize("run", Level.READ, Target(run_id=run_id))
    run = await context.read(lambda c: run_service.get_run(c, run_id))
    return {"run": run_json(run)}


@_reported
async def search_runs_field(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    given = _input(arguments)
    experiment_ids = [str(item) for item in given.get("experimentIds") or [] if item is not None]
    await context.authorize("run", Level.READ, Target(experiment_ids=experiment_ids))
    page = await context.read(
        lambda c: search_runs.search_runs(
            c,
            experiment_ids=experiment_ids,
            filter_string=given.get("filter"),
            view_type=ViewType(given.get("runViewType") or ViewType.ACTIVE_ONLY),
            max_results=given.get("maxResults"),
            order_by=[item for item in given.get("orderBy") or [] if item is not None],
            page_token=given.get("pageToken"),
        )
    )
    return {"runs": [run_json(run) for run in page.items], "next_page_token": page.next_page_token}


@_reported
async def metric_history_bulk_interval(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    given = _input(arguments)
    run_ids = [str(item) for item in given.get("runIds") or [] if item is not None]
    await context.authorize("run", Level.READ, Target(run_ids=run_ids))
    points = await context.read(
        lambda c: metric_history.get_metric_history_bulk_interval(
            c,
            run_ids,
            given.get("metricKey"),
            start_step=given.get("startStep"),
            end_step=given.get("endStep"),
            max_results=given.get("maxResults"),
        )
    )
    return {"metrics": [metric_json(point) for point in points]}


@_reported
async def list_artifacts(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    given = _input(arguments)
    run_id = _run_id(given)
    await context.authorize("artifact", Level.READ, Target(run_id=run_id))
    run = await context.read(lambda c: run_service.get_run(c, run_id))
    store = platform_of(context.request).artifacts
    files = await artifact_service.list_run_artifacts(store, run.info.artifact_uri, given.get("path"))
    return {
        "root_uri": run.info.artifact_uri,
        "files": [
            {"path": f.path, "is_dir": f.is_dir} | ({"file_size": f.file_size} if f.file_size is not None else {})
            for f in files
        ],
    }


async def _model_versions(context: Context, filter_string: str | None, **paging: Any) -> Any:
    await context.authorize("registered_model", Level.READ, Target())
    readable = await access.readable_for(context.request, "registered_model")
    return await context.read(
        lambda c: registry_search.search_model_versions(c, filter_string=filter_string, readable=readable, **paging)
    )


@_reported
async def search_model_versions(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    given = _input(arguments)
    page = await _model_versions(
        _context(info),
        given.get("filter"),
        max_results=given.get("maxResults"),
        order_by=[item for item in given.get("orderBy") or [] if item is not None],
        page_token=given.get("pageToken"),
    )
    return {"model_versions": [model_version_json(v) for v in page.items], "next_page_token": page.next_page_token}


@_reported
async def search_datasets(_source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Resolved:
    context = _context(info)
    experiment_ids = [str(item) for item in _input(arguments).get("experimentIds") or [] if item is not None]
    await context.authorize("experiment", Level.READ, Target(experiment_ids=experiment_ids))
    summaries = await context.read(lambda c: dataset_summaries.search_dataset_summaries(c, experiment_ids))
    return {
        "dataset_summaries": [
            {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest, "context": s.context}
            for s in summaries
        ]
    }


def echo(_source: Any, _info: GraphQLResolveInfo, inputString: str | None = None) -> dict[str, Any]:
    return {"output": inputString}


# --- fields of a run ---


@_reported
async def run_experiment(source: dict[str, Any], info: GraphQLResolveInfo) -> Resolved:
    """The run's experiment: readable with the run, looked up once per request."""
    context = _context(info)
    experiment_id = str(source["info"]["experiment_id"])
    if experiment_id not in context.experiments:
        experiment = await context.read(lambda c: experiment_service.get_experiment(c, experiment_id))
        context.experiments[experiment_id] = experiment_json(experiment)
    return context.experiments[experiment_id]


@_reported
async def run_model_versions(source: dict[str, Any], info: GraphQLResolveInfo) -> list[dict[str, Any]]:
    """The registered versions made from the run, as a ``run_id`` model-version search finds them."""
    run_id = str(source["info"]["run_id"]).replace("'", "")
    page = await _model_versions(_context(info), f"run_id = '{run_id}'")
    return [model_version_json(v) for v in page.items]


# --- schema assembly ---


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@cache
def _snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def read_key(source: Any, info: GraphQLResolveInfo, **_arguments: Any) -> Any:
    """A field's value from the REST JSON dict it belongs to; non-finite doubles are ``null``."""
    if not isinstance(source, dict):
        return None
    value = source.get(_snake(info.field_name))
    returned = info.return_type.of_type if isinstance(info.return_type, GraphQLNonNull) else info.return_type
    if isinstance(value, str) and returned is GraphQLFloat:
        return None  # protobuf JSON writes NaN and infinities as strings; GraphQL's Float has neither
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _serialize_long(value: Any) -> str:
    return str(value)


def _parse_long_literal(node: ValueNode, _variables: Any = None) -> int:
    if isinstance(node, IntValueNode | StringValueNode):
        return _parse_long(node.value)
    raise GraphQLError("LongString expects an integer")


def _parse_long(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise GraphQLError(f"LongString expects an integer, got {str(value)[:100]!r}") from None


ROOT_RESOLVERS: dict[str, dict[str, Callable[..., Any]]] = {
    "Query": {
        "mlflowGetExperiment": get_experiment,
        "mlflowGetMetricHistoryBulkInterval": metric_history_bulk_interval,
        "mlflowGetRun": get_run,
        "mlflowListArtifacts": list_artifacts,
        "mlflowSearchModelVersions": search_model_versions,
        "mlflowSearchRuns": search_runs_field,
        "test": echo,
    },
    "Mutation": {
        "mlflowSearchDatasets": search_datasets,
        "mlflowSearchRuns": search_runs_field,
        "testMutation": echo,
    },
    "MlflowRunExtension": {"experiment": run_experiment, "modelVersions": run_model_versions},
}


@cache
def schema() -> GraphQLSchema:
    built = build_schema(resources.files(__package__).joinpath("graphql_schema.graphql").read_text())
    long_string = built.type_map["LongString"]
    assert isinstance(long_string, GraphQLScalarType)
    long_string.serialize = _serialize_long  # type: ignore[method-assign]
    long_string.parse_value = _parse_long  # type: ignore[method-assign]
    long_string.parse_literal = _parse_long_literal  # type: ignore[method-assign,assignment]
    for type_name, fields in ROOT_RESOLVERS.items():
        object_type = built.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        for field_name, resolve in fields.items():
            object_type.fields[field_name].resolve = resolve
    return built
