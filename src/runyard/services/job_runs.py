"""The tracking run of a job attempt, created in the placement transaction.

Placement is the scheduler's hot path, so this writes the run through the tracking *store* in four
statements (experiment location, run, tags, params) instead of ``services.runs.create_run`` plus
``services.logging.log_batch``, which validate a client's arbitrary input and re-read the whole run
(about fifteen statements). What those services guarantee still holds here: the experiment is
active (checked below), tags and params are validated (params at submission, by
``check_param_names``), and the run's artifact URI follows the same layout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select

from runyard.domain import validation
from runyard.domain.clock import now_ms
from runyard.domain.tracking import LifecycleStage, Param, RunStatus, Tag
from runyard.errors import InvalidParameter, NotFound
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


def create_attempt_run(
    connection: Connection,
    *,
    experiment_id: int,
    run_name: str,
    user_id: str | None,
    tags: list[Tag],
    parameters: Mapping[str, Any],
) -> str:
    """Insert a RUNNING run with ``tags`` and ``parameters`` as params; returns its id."""
    row = connection.execute(
        select(experiments.c.artifact_location, experiments.c.lifecycle_stage).where(
            experiments.c.experiment_id == experiment_id
        )
    ).first()
    if row is None:
        raise NotFound(f"No Experiment with id={experiment_id} exists")
    if row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameter(f"The experiment {experiment_id} must be in the 'active' state.")
    for tag in tags:
        validation.validate_tag(tag)
    run_id = uuid.uuid4().hex
    now = now_ms()
    run_store.insert_run(
        connection,
        run_uuid=run_id,
        name=run_name[: validation.MAX_RUN_NAME_LENGTH],
        experiment_id=experiment_id,
        user_id=user_id or "",
        status=RunStatus.RUNNING.value,
        start_time=now,
        end_time=None,
        last_activity_time=now,
        lifecycle_stage=LifecycleStage.ACTIVE.value,
        artifact_uri=f"{(row.artifact_location or '').rstrip('/')}/{run_id}/artifacts",
    )
    run_store.set_tags(connection, run_id, [*tags, Tag(RUN_NAME_TAG, run_name)])
    run_store.insert_params(connection, run_id, [Param(key, param_text(value)) for key, value in parameters.items()])
    return run_id
