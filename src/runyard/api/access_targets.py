"""What resource a request names: ids read from its path, query string and JSON body (MLflow's parameter names)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from runyard.domain.registry import REGISTRY_ARTIFACT_PREFIX
from runyard.services.access_checks import Target

# Routes whose body is a file or a stream, never a JSON document naming the resource.
_STREAMED = ("/artifacts/", "/mpu/")


async def _json_body(request: Request) -> dict[str, Any]:
    if request.method in ("GET", "HEAD", "DELETE") and not request.headers.get("content-length"):
        return {}
    if any(part in request.url.path for part in _STREAMED):
        return {}
    if "json" not in (request.headers.get("content-type") or "json"):
        return {}
    body = await request.body()  # cached on the request: the handler reads the same bytes
    if not body.strip():
        return {}
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}  # the handler reports the malformed body precisely
    return data if isinstance(data, dict) else {}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


async def extract(request: Request) -> Target:
    params: dict[str, Any] = dict(request.query_params)
    params.update(await _json_body(request))
    path = request.path_params
    target = Target(
        experiment_id=_text(params.get("experiment_id")),
        experiment_name=_text(params.get("experiment_name")),
        run_id=_text(params.get("run_id") or params.get("run_uuid")),
        model_name=_text(params.get("name"))
        if "/registered-models/" in request.url.path or "/model-versions/" in request.url.path
        else None,
        logged_model_id=_text(params.get("model_id") or path.get("model_id")),
        queue=_text(params.get("queue")),
        job_id=_text(path.get("job_id")),
        recipe=_text(path.get("name")) if "/recipes" in request.url.path else None,
        worker_id=_text(path.get("worker_id")),
        pool=_text(params.get("pool")) if request.url.path.endswith("/workers/register") else None,
        dataset_id=_text(path.get("dataset_id")) if "/datasets/" in request.url.path else None,
    )
    if request.url.path.startswith("/gateway/"):
        target.gateway_endpoint = _text(path.get("endpoint_name") or params.get("model")) or None
    elif request.url.path.endswith(("/mlflow/gateway/endpoints/get", "/mlflow/gateway/endpoints/list")):
        target.gateway_endpoint = _text(params.get("name")) or None
        target.gateway_endpoint_id = _text(params.get("endpoint_id")) or None
    if "/scorers/" in request.url.path:
        scorer_ids = params.get("scorer_ids")
        target.scorer_ids = (
            [str(item) for item in scorer_ids][:1000]
            if isinstance(scorer_ids, list)
            else request.query_params.getlist("scorer_ids")[:1000]
        )
    run_ids = request.query_params.getlist("run_id") + request.query_params.getlist("run_ids")
    if len(run_ids) > 1 or request.query_params.getlist("run_ids"):
        target.run_ids, target.run_id = run_ids, None
    trace_id = path.get("trace_id") or path.get("request_id") or params.get("trace_id") or params.get("request_id")
    trace_ids = params.get("trace_ids")
    if "/traces" in request.url.path or request.url.path.endswith("/get-trace-artifact"):
        if isinstance(trace_ids, list):
            target.trace_ids = [str(item) for item in trace_ids][:1000]
        elif request.query_params.getlist("trace_ids"):
            target.trace_ids = request.query_params.getlist("trace_ids")[:1000]
        elif trace_id is not None and _text(trace_id):
            target.trace_ids = [str(trace_id)]
    experiment_ids = params.get("experiment_ids")
    locations = params.get("locations")
    if isinstance(locations, list) and "/traces" in request.url.path:
        # Trace searches name their experiments as locations: {"mlflow_experiment": {"experiment_id": …}}.
        named = [
            _text((location.get("mlflow_experiment") or {}).get("experiment_id"))
            for location in locations
            if isinstance(location, dict) and isinstance(location.get("mlflow_experiment"), dict)
        ]
        experiment_ids = [*(experiment_ids if isinstance(experiment_ids, list) else []), *filter(None, named)]
    if isinstance(experiment_ids, list):
        target.experiment_ids = [str(item) for item in experiment_ids]
    elif request.query_params.getlist("experiment_ids"):
        target.experiment_ids = request.query_params.getlist("experiment_ids")
    artifact_path = path.get("path") or path.get("directory")
    if artifact_path is not None and "/mlflow-artifacts/" in request.url.path:
        target.artifact_path = str(artifact_path)
    elif "/mlflow-artifacts/" in request.url.path and params.get("path"):
        target.artifact_path = str(params["path"])
    if target.artifact_path is not None and f"/artifacts/{REGISTRY_ARTIFACT_PREFIX}/" in request.url.path:
        # Registry downloads are routed with the ``_registry/`` prefix taken off the path.
        if not target.artifact_path.strip("/").startswith(REGISTRY_ARTIFACT_PREFIX + "/"):
            target.artifact_path = f"{REGISTRY_ARTIFACT_PREFIX}/{target.artifact_path.lstrip('/')}"
    if target.artifact_path is not None:
        segments = [segment for segment in target.artifact_path.split("/") if segment]
        if len(segments) >= 2 and segments[0] == REGISTRY_ARTIFACT_PREFIX:
            target.registry_storage_id = segments[1]
    if request.url.path.endswith("/jobs") and request.method == "POST" and target.queue is None:
        target.queue = "default"
    return target
