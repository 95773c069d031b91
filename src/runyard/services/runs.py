"""Runs: create, read, update status, delete/restore, tags."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from runyard.domain import validation
from runyard.domain.clock import now_ms
from runyard.domain.names import random_run_name
from runyard.domain.tracking import LifecycleStage, Run, RunInfo, RunStatus, Tag
from runyard.errors import InvalidParameter, NotFound
from runyard.services import experiments as experiment_service
from runyard.services.workspaces import workspace_scope
from runyard.stores.metadata import runs as store

RUN_NAME_TAG = "mlflow.runName"


def create_run(
    connection: Connection,
    *,
    experiment_id: str | int | None,
    user_id: str | None = None,
    start_time: int | None = None,
    tags: Sequence[Tag] = (),
    run_name: str | None = None,
) -> Run:
    """Create a RUNNING run in an active experiment."""
    experiment = experiment_service.get_experiment(connection, experiment_id if experiment_id is not None else 0)
    experiment_service.require_active(experiment)
    for index, tag in enumerate(tags):
        validation.validate_tag(tag, f"tags[{index}]")
    tag_list = list(tags)
    name_tag = next((tag.value for tag in tag_list if tag.key == RUN_NAME_TAG), None)
    if run_name and name_tag and run_name != name_tag:
        raise InvalidParameter(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with "
            f"different values (run_name='{run_name}', mlflow.runName='{name_tag}')."
        )
    validation.check_length("user_id", validation.MAX_USER_ID_LENGTH, user_id)
    run_name = run_name or name_tag or random_run_name()
    validation.check_length("run_name", validation.MAX_RUN_NAME_LENGTH, run_name)
    if name_tag is None:
        tag_list.append(Tag(RUN_NAME_TAG, run_name))
    run_id = uuid.uuid4().hex
    now = now_ms()
    start = start_time if start_time is not None else now
    validation.check_int64("start_time", start)
    store.insert_run(
        connection,
        run_uuid=run_id,
        name=run_name,
        experiment_id=int(experiment.experiment_id),
        user_id=user_id or "",
        status=RunStatus.RUNNING.value,
        start_time=start,
        end_time=None,
        last_activity_time=now,
        lifecycle_stage=LifecycleStage.ACTIVE.value,
        artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
    )
    store.set_tags(connection, run_id, _dedupe_tags(tag_list))
    return get_run(connection, run_id)


def _dedupe_tags(tags: Sequence[Tag]) -> list[Tag]:
    # The last value of a key wins, as it would with sequential set-tag calls.
    return list({tag.key: tag for tag in tags}.values())


def get_run(connection: Connection, run_id: str | None) -> Run:
    row = _run_row(connection, run_id)
    return store.load_runs(connection, [row])[0]


def _run_row(connection: Connection, run_id: str | None, *, lock: bool = False) -> Row[Any]:
    if not run_id:
        raise InvalidParameter("Missing value for required parameter 'run_id'.")
    workspace = workspace_scope()
    row = (
        store.lock_run(connection, run_id, workspace=workspace)
        if lock
        else store.get_run_row(connection, run_id, workspace=workspace)
    )
    if row is None:
        raise NotFound(f"Run with id={run_id} not found")
    return row


def lock_active_run(connection: Connection, run_id: str | None) -> Row[Any]:
    """The run's row, locked for this transaction; refuses deleted runs as MLflow does."""
    row = _run_row(connection, run_id, lock=True)
    if row.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameter(
            f"The run {row.run_uuid} must be in the 'active' state. Current state is {row.lifecycle_stage}."
        )
    return row


def update_run(
    connection: Connection,
    run_id: str | None,
    *,
    status: str | None = None,
    end_time: int | None = None,
    run_name: str | None = None,
) -> RunInfo:
    row = lock_active_run(connection, run_id)
    values: dict[str, Any] = {"last_activity_time": now_ms()}
    if status is not None:
        try:
            values["status"] = RunStatus(status).value
        except ValueError:
            raise InvalidParameter(
                f"Invalid value {status!r} for parameter 'status': expected one of "
                f"{', '.join(s.value for s in RunStatus)}"
            ) from None
    if end_time is not None:
        validation.check_int64("end_time", end_time)
        values["end_time"] = end_time
    if run_name:
        validation.check_length("run_name", validation.MAX_RUN_NAME_LENGTH, run_name)
        values["name"] = run_name
        store.set_tags(connection, row.run_uuid, [Tag(RUN_NAME_TAG, run_name)])
    store.update_run(connection, row.run_uuid, **values)
    updated = store.get_run_row(connection, row.run_uuid, workspace=workspace_scope())
    assert updated is not None
    return store.to_run_info(updated)


def record_activity(connection: Connection, run_id: str, **changes: Any) -> None:
    """Store ``changes`` to the run and stamp its last activity: the live runs stream reports it."""
    store.update_run(connection, run_id, last_activity_time=now_ms(), **changes)


def delete_run(connection: Connection, run_id: str | None) -> None:
    row = _run_row(connection, run_id, lock=True)
    record_activity(connection, row.run_uuid, lifecycle_stage=LifecycleStage.DELETED.value, deleted_time=now_ms())


def restore_run(connection: Connection, run_id: str | None) -> None:
    row = _run_row(connection, run_id, lock=True)
    record_activity(connection, row.run_uuid, lifecycle_stage=LifecycleStage.ACTIVE.value, deleted_time=None)


def set_tag(connection: Connection, run_id: str | None, key: str, value: str) -> None:
    tag = Tag(key, value)
    validation.validate_tag(tag)
    row = lock_active_run(connection, run_id)
    apply_tags(connection, row.run_uuid, [tag])
    record_activity(connection, row.run_uuid)


def apply_tags(connection: Connection, run_id: str, tags: Sequence[Tag]) -> None:
    """Store tags; ``mlflow.runName`` also renames the run, as in MLflow."""
    if not tags:
        return
    store.set_tags(connection, run_id, _dedupe_tags(tags))
    names = [tag.value for tag in tags if tag.key == RUN_NAME_TAG]
    if names:
        store.update_run(connection, run_id, name=names[-1])


def delete_tag(connection: Connection, run_id: str | None, key: str) -> None:
    row = lock_active_run(connection, run_id)
    if store.delete_tag(connection, row.run_uuid, key) == 0:
        raise NotFound(f"No tag with name: {key} in run with id {row.run_uuid}")
    record_activity(connection, row.run_uuid)
