"""Prompt-lab runs: one finished run recording a prompt tried against a gateway route, as MLflow's UI makes them.

The run holds the prompt template and the route as params, the tags MLflow's UI reads
(``mlflow.loggedArtifacts`` naming the evaluation table, ``mlflow.source.type`` = PROMPT_ENGINEERING),
and two artifacts: ``eval_results_table.json`` (the prompt's inputs, the prompt and the output) and a
``model/`` directory in MLflow's pyfunc layout whose loader is ``mlflow.prompt.promptlab_model``, so
``mlflow.pyfunc.load_model("runs:/…/model")`` loads it.
"""

from __future__ import annotations

import json
import platform
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.tracking import Param, Run, RunStatus, Tag
from runyard.errors import InvalidParameter
from runyard.services import artifacts as artifact_service
from runyard.services import logging as logging_service
from runyard.services import runs as run_service

# The platform's ``write``: runs one function in one transaction.
Transaction = Callable[[Callable[[Connection], Any]], Awaitable[Any]]

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
SOURCE_TYPE_TAG = "mlflow.source.type"
EVAL_TABLE = "eval_results_table.json"
LOADER_MODULE = "mlflow.prompt.promptlab_model"


@dataclass(frozen=True)
class PromptlabRun:
    """What MLflow's prompt-engineering UI sends (``CreatePromptlabRun``)."""

    experiment_id: str
    prompt_template: str
    prompt_parameters: Sequence[Param]
    model_route: str
    model_input: str
    mlflow_version: str
    run_name: str | None = None
    tags: Sequence[Tag] = ()
    model_parameters: Sequence[Param] = ()
    model_output: str | None = None
    model_output_parameters: Sequence[Param] = ()
    user_id: str = "unknown"
    start_time: int | None = None


def _eval_table(spec: PromptlabRun) -> bytes:
    columns = [p.key for p in spec.prompt_parameters] + ["prompt", "output"]
    row: list[str | None] = [*(p.value for p in spec.prompt_parameters), spec.model_input, spec.model_output]
    columns += [p.key for p in spec.model_output_parameters]
    row += [p.value for p in spec.model_output_parameters]
    return json.dumps({"columns": columns, "data": [row]}).encode()


def _model_description(spec: PromptlabRun, run_id: str) -> dict[str, Any]:
    """The MLmodel document (and the run's model-history entry) of the prompt's pyfunc model."""

    def schema(names: list[str]) -> str:
        return json.dumps([{"type": "string", "name": name, "required": True} for name in names])

    return {
        "artifact_path": "model",
        "flavors": {
            "python_function": {
                "loader_module": LOADER_MODULE,
                "parameters_path": "parameters.yaml",
                "conda": "conda.yaml",
                "python_version": platform.python_version(),
                "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
            }
        },
        "mlflow_version": spec.mlflow_version,
        "model_uuid": uuid.uuid4().hex,
        "run_id": run_id,
        "signature": {
            "inputs": schema([p.key for p in spec.prompt_parameters]),
            "outputs": schema(["output"]),
            "params": None,
        },
        "utc_time_created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
    }


def _model_files(spec: PromptlabRun, description: dict[str, Any]) -> dict[str, bytes]:
    requirement = f"mlflow[gateway]=={spec.mlflow_version}"
    parameters = {
        "prompt_template": spec.prompt_template,
        "prompt_parameters": {p.key: p.value for p in spec.prompt_parameters},
        "model_parameters": {p.key: p.value for p in spec.model_parameters},
        "model_route": spec.model_route,
    }
    python = platform.python_version()
    conda = {
        "name": "mlflow-env",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": [requirement]}],
    }
    python_env = {"python": python, "build_dependencies": ["pip"], "dependencies": ["-r requirements.txt"]}

    def dump(document: Any) -> bytes:
        return yaml.safe_dump(document, default_flow_style=False, sort_keys=False).encode()

    return {
        "model/MLmodel": dump(description),
        "model/parameters.yaml": dump(parameters),
        "model/conda.yaml": dump(conda),
        "model/python_env.yaml": dump(python_env),
        "model/requirements.txt": requirement.encode(),
    }


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _validate(spec: PromptlabRun) -> None:
    required = {
        "experiment_id": spec.experiment_id,
        "prompt_template": spec.prompt_template,
        "prompt_parameters": spec.prompt_parameters,
        "model_route": spec.model_route,
        "model_input": spec.model_input,
        "mlflow_version": spec.mlflow_version,
    }
    for name, value in required.items():
        if not value:
            raise InvalidParameter(f"CreatePromptlabRun request must specify {name}.")


async def create_promptlab_run(write: Transaction, store: artifact_service.ArtifactStore, spec: PromptlabRun) -> Run:
    """Create the run, log its params, tags and artifacts, and finish it (FAILED if the artifacts fail)."""
    _validate(spec)
    params = [
        *(Param(p.key, str(p.value)) for p in spec.model_parameters),
        Param("model_route", spec.model_route),
        Param("prompt_template", spec.prompt_template),
    ]
    tags = [
        Tag(LOGGED_ARTIFACTS_TAG, json.dumps([{"path": EVAL_TABLE, "type": "table"}])),
        Tag(SOURCE_TYPE_TAG, "PROMPT_ENGINEERING"),
    ]

    def start(connection: Connection) -> tuple[Run, dict[str, Any]]:
        run = run_service.create_run(
            connection,
            experiment_id=spec.experiment_id,
            user_id=spec.user_id,
            start_time=spec.start_time,
            tags=spec.tags,
            run_name=spec.run_name,
        )
        run_id = run.info.run_id
        logging_service.log_batch(connection, run_id, params=params, tags=tags)
        description = _model_description(spec, run_id)
        logging_service.append_model_history(connection, run_id, json.dumps(description))
        return run, description

    started: tuple[Run, dict[str, Any]] = await write(start)
    run, description = started
    run_id = run.info.run_id
    status = RunStatus.FINISHED
    try:
        files = {EVAL_TABLE: _eval_table(spec), **_model_files(spec, description)}
        for name, data in files.items():
            await artifact_service.upload(
                store, artifact_service.run_file_path(run.info.artifact_uri, name), _chunks(data)
            )
    except Exception:
        status = RunStatus.FAILED
    await write(lambda c: run_service.update_run(c, run_id, status=status.value, end_time=now_ms()))
    finished: Run = await write(lambda c: run_service.get_run(c, run_id))
    return finished
