"""Experiments through the real ``mlflow`` client, on every database backend."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException

from tests.conftest import unique


def test_default_experiment_exists(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    default = mlflow_client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"


def test_create_get_and_get_by_name(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    name = unique("exp")
    experiment_id = mlflow_client.create_experiment(name, tags={"team": "vision"})
    by_id = mlflow_client.get_experiment(experiment_id)
    by_name = mlflow_client.get_experiment_by_name(name)
    assert by_id.experiment_id == by_name.experiment_id == experiment_id
    assert by_id.tags == {"team": "vision"}
    assert by_id.artifact_location == f"mlflow-artifacts:/{experiment_id}"


def test_get_by_unknown_name_returns_none(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    assert mlflow_client.get_experiment_by_name(unique("missing")) is None


def test_duplicate_name_is_refused_with_mlflow_code(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    name = unique("dup")
    mlflow_client.create_experiment(name)
    with pytest.raises(MlflowException) as raised:
        mlflow_client.create_experiment(name)
    assert raised.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_rename_delete_restore(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("old"))
    new_name = unique("new")
    mlflow_client.rename_experiment(experiment_id, new_name)
    assert mlflow_client.get_experiment(experiment_id).name == new_name
    mlflow_client.delete_experiment(experiment_id)
    assert mlflow_client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    deleted = mlflow_client.search_experiments(view_type=ViewType.DELETED_ONLY, max_results=50000)
    assert experiment_id in {e.experiment_id for e in deleted}
    mlflow_client.restore_experiment(experiment_id)
    assert mlflow_client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_set_and_delete_tag(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("tags"))
    mlflow_client.set_experiment_tag(experiment_id, "k", "v1")
    mlflow_client.set_experiment_tag(experiment_id, "k", "v2")
    assert mlflow_client.get_experiment(experiment_id).tags == {"k": "v2"}
    mlflow_client.delete_experiment_tag(experiment_id, "k")
    assert mlflow_client.get_experiment(experiment_id).tags == {}


def test_unknown_experiment_id_is_not_found(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MlflowException) as raised:
        mlflow_client.get_experiment("987654321")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
