"""The tracking runs of job attempts, created in the placement transaction.

Placement is the scheduler's hot path, so this writes runs through the tracking *store* in four
statements for a whole claim (experiment locations, runs, tags, params — one executemany each)
instead of ``services.runs.create_run`` plus ``services.logging.log_batch`` per run, which validate a
client's arbitrary input and re-read the whole run (about fifteen statements each). What those
services guarantee still holds here: the experiment is active (checked below), tags and params are
validated (params at submission, by ``check_param_names``), and the run's artifact URI follows the
same layout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from runyard.domain import validation
from runyard.domain.clock import now_ms
from runyard.domain.tracking import LifecycleStage, Param, RunStatus, Tag
from runyard.errors import InvalidParameter, NotFound, RunyardError
from runyard.stores.metadata import runs as run_store
from runyard.stores.metadata.tables import experiments

RUN_NAME_TAG = "mlflow.runName"


def param_text(value: Any) -> str:
    """A job parameter as the text logged to the run (JSON for anything but a string)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text[: validation.MAX_PARAM_VAL_LENGTH]


def check_param_names(parameters: Mapping[str, Any]) -> None:
    """Every parameter must be loggable as an MLflow param; fail at submission, naming the field."""
    for key, value in parameters.items():
        try:
            validation.validate_param(Param(key, param_text(value)))
        except InvalidParameter as error:
            raise InvalidParameter(f"Invalid parameter name 'parameters.{key}': {error.message}") from None


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One attempt run to create."""

    experiment_id: int
    run_name: str
    user_id: str | None
    tags: list[Tag]
    parameters: Mapping[str, Any]


def create_attempt_runs(connection: Connection, specs: Sequence[RunSpec]) -> list[str | RunyardError]:
    """Insert a RUNNING run per spec (tags, parameters as params); each answer is its id or why not.

    A spec whose experiment is missing or not active gets the error and no run; the others are
    written together. Checks come before writes, so a refusal leaves nothing to roll back.
    """
    ids = sorted({spec.experiment_id for spec in specs})
    locations: dict[int, str] = {}
    refusals: dict[int, RunyardError] = {
        experiment_id: NotFound(f"No Experiment with id={experiment_id} exists") for experiment_id in ids
    }
    if ids:
        rows = connection.execute(
            select(experiments.c.experiment_id, experiments.c.artifact_location, experiments.c.lifecycle_stage).where(
                experiments.c.experiment_id.in_(ids)
            )
        )
        for row in rows:
            experiment_id = int(row.experiment_id)
            if row.lifecycle_stage != LifecycleStage.ACTIVE:
                refusals[experiment_id] = InvalidParameter(
                    f"The experiment {experiment_id} must be in the 'active' state."
                )
                continue
            del refusals[experiment_id]
            locations[experiment_id] = (row.artifact_location or "").rstrip("/")
    now = now_ms()
    answers: list[str | RunyardError] = []
    run_rows: list[tuple[Any, ...]] = []
    tag_rows: list[tuple[str, str, str]] = []
    param_rows: list[tuple[str, str, str]] = []
    for spec in specs:
        refusal = refusals.get(spec.experiment_id)
        if refusal is not None:
            answers.append(refusal)
            continue
        try:
            for tag in spec.tags:
                validation.validate_tag(tag)
        except RunyardError as error:
            answers.append(error)
            continue
        run_id = uuid.uuid4().hex
        run_rows.append(
            (
                run_id,
                spec.run_name[: validation.MAX_RUN_NAME_LENGTH],
                spec.experiment_id,
                spec.user_id or "",
                RunStatus.RUNNING.value,
                now,
                None,
                now,
                LifecycleStage.ACTIVE.value,
                f"{locations[spec.experiment_id]}/{run_id}/artifacts",
            )
        )
        tag_rows.extend((run_id, tag.key, tag.value) for tag in spec.tags)
        tag_rows.append((run_id, RUN_NAME_TAG, spec.run_name))
        param_rows.extend((run_id, key, param_text(value)) for key, value in spec.parameters.items())
        answers.append(run_id)
    run_store.insert_run_rows(connection, run_rows, tag_rows, param_rows)
    return answers
