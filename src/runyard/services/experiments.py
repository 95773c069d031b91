"""Experiments: create, read, rename, delete/restore, tags."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from runyard.domain import validation
from runyard.domain.clock import now_ms
from runyard.domain.tracking import Experiment, LifecycleStage, Tag
from runyard.errors import InvalidParameter, NotFound
from runyard.services.workspaces import current_workspace, workspace_scope
from runyard.stores.metadata import experiments as store


def create_experiment(
    connection: Connection, name: str | None, artifact_location: str | None = None, tags: Sequence[Tag] = ()
) -> str:
    """Create an experiment and return its id."""
    name = validation.validate_experiment_name(name)
    for tag in tags:
        validation.validate_experiment_tag(tag)
    if artifact_location is not None and len(artifact_location) > 1000:
        raise InvalidParameter("'artifact_location' exceeds the maximum length of 1000 characters")
    experiment_id = store.insert_experiment(
        connection,
        workspace=current_workspace(),
        name=name,
        artifact_location=artifact_location,
        now=now_ms(),
        tags=tags,
    )
    return str(experiment_id)


def get_experiment(connection: Connection, experiment_id: str | int | None) -> Experiment:
    parsed = validation.parse_experiment_id(experiment_id)
    experiment = store.get_experiment(connection, parsed, workspace_scope())
    if experiment is None:
        raise NotFound(f"No Experiment with id={parsed} exists")
    return experiment


def get_experiment_by_name(connection: Connection, name: str | None) -> Experiment:
    if not name:
        raise InvalidParameter("Missing value for required parameter 'experiment_name'.")
    experiment = store.get_experiment_by_name(connection, name, workspace_scope())
    if experiment is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return experiment


def _require_experiment(connection: Connection, experiment_id: str | int | None) -> int:
    parsed = validation.parse_experiment_id(experiment_id)
    if store.lock_experiment(connection, parsed, workspace_scope()) is None:
        raise NotFound(f"No Experiment with id={parsed} exists")
    return parsed


def require_active(experiment: Experiment) -> None:
    if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidParameter(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. "
            f"Current state is {experiment.lifecycle_stage}."
        )


def rename_experiment(connection: Connection, experiment_id: str | int | None, new_name: str | None) -> None:
    new_name = validation.validate_experiment_name(new_name)
    experiment = get_experiment(connection, experiment_id)
    require_active(experiment)
    store.update_experiment(connection, int(experiment.experiment_id), now=now_ms(), name=new_name)


def delete_experiment(connection: Connection, experiment_id: str | int | None) -> None:
    parsed = _require_experiment(connection, experiment_id)
    if parsed == 0:
        raise InvalidParameter("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
    store.update_experiment(connection, parsed, now=now_ms(), lifecycle_stage=LifecycleStage.DELETED.value)


def restore_experiment(connection: Connection, experiment_id: str | int | None) -> None:
    experiment = get_experiment(connection, experiment_id)
    if experiment.lifecycle_stage != LifecycleStage.DELETED:
        raise InvalidParameter(f"Cannot restore an active experiment. Experiment {experiment.experiment_id} is active.")
    store.update_experiment(
        connection, int(experiment.experiment_id), now=now_ms(), lifecycle_stage=LifecycleStage.ACTIVE.value
    )


def set_experiment_tag(connection: Connection, experiment_id: str | int | None, key: str, value: str) -> None:
    tag = Tag(key, value)
    validation.validate_experiment_tag(tag)
    experiment = get_experiment(connection, experiment_id)
    require_active(experiment)
    store.set_tags(connection, int(experiment.experiment_id), [tag])


def delete_experiment_tag(connection: Connection, experiment_id: str | int | None, key: str) -> None:
    experiment = get_experiment(connection, experiment_id)
    require_active(experiment)
    if store.delete_tag(connection, int(experiment.experiment_id), key) == 0:
        raise NotFound(f"No tag with name: {key} in experiment with id {experiment.experiment_id}")
