"""Runs and logging through the real ``mlflow`` client, on every database backend."""

from __future__ import annotations

import math
import time

import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

from tests.conftest import unique


@pytest.fixture
def experiment_id(mlflow_client) -> str:  # type: ignore[no-untyped-def]
    return str(mlflow_client.create_experiment(unique("runs")))


def test_create_run_with_name_start_time_and_tags(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run = mlflow_client.create_run(experiment_id, start_time=1234, tags={"team": "a"}, run_name="first")
    fetched = mlflow_client.get_run(run.info.run_id)
    assert fetched.info.run_name == "first"
    assert fetched.info.start_time == 1234
    assert fetched.info.status == "RUNNING"
    assert fetched.data.tags["team"] == "a"
    assert fetched.data.tags["mlflow.runName"] == "first"
    assert fetched.info.artifact_uri == f"mlflow-artifacts:/{experiment_id}/{run.info.run_id}/artifacts"


def test_run_without_name_gets_a_generated_one(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run = mlflow_client.create_run(experiment_id)
    assert run.info.run_name
    assert mlflow_client.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_fluent_nested_runs_keep_system_tags(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    with mlflow.start_run(experiment_id=experiment_id, run_name="parent") as parent:
        with mlflow.start_run(nested=True, run_name="child") as child:
            mlflow.log_param("lr", 0.1)
    child_run = mlflow_client.get_run(child.info.run_id)
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.user" in child_run.data.tags
    assert "mlflow.source.name" in child_run.data.tags
    assert child_run.info.status == "FINISHED"
    assert child_run.info.end_time is not None


def test_update_status_end_time_and_rename(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run = mlflow_client.create_run(experiment_id)
    mlflow_client.set_terminated(run.info.run_id, status="KILLED", end_time=99999)
    mlflow_client.update_run(run.info.run_id, name="renamed")
    fetched = mlflow_client.get_run(run.info.run_id)
    assert fetched.info.status == "KILLED"
    assert fetched.info.end_time == 99999
    assert fetched.info.run_name == "renamed"
    assert fetched.data.tags["mlflow.runName"] == "renamed"


def test_delete_and_restore_run(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run = mlflow_client.create_run(experiment_id)
    mlflow_client.delete_run(run.info.run_id)
    assert mlflow_client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(MlflowException, match="must be in the 'active' state"):
        mlflow_client.log_param(run.info.run_id, "p", "1")
    mlflow_client.restore_run(run.info.run_id)
    assert mlflow_client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_set_and_delete_tag(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run = mlflow_client.create_run(experiment_id)
    mlflow_client.set_tag(run.info.run_id, "k", "v")
    mlflow_client.delete_tag(run.info.run_id, "k")
    assert "k" not in mlflow_client.get_run(run.info.run_id).data.tags
    with pytest.raises(MlflowException) as raised:
        mlflow_client.delete_tag(run.info.run_id, "k")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_params_metrics_tags_single_and_batch(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.log_param(run_id, "depth", 3)
    mlflow_client.log_metric(run_id, "loss", 0.5, timestamp=10, step=1)
    now = int(time.time() * 1000)
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric("loss", 0.25, now, 2), Metric("acc", float("nan"), now, 0)],
        params=[Param("lr", "0.01")],
        tags=[RunTag("stage", "dev")],
    )
    data = mlflow_client.get_run(run_id).data
    assert data.params == {"depth": "3", "lr": "0.01"}
    assert data.metrics["loss"] == 0.25  # latest = largest step
    assert math.isnan(data.metrics["acc"])
    assert data.tags["stage"] == "dev"


def test_latest_metric_is_largest_step_then_timestamp(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.log_batch(run_id, metrics=[Metric("m", 5.0, 100, 3), Metric("m", 1.0, 200, 2)])
    mlflow_client.log_batch(run_id, metrics=[Metric("m", 7.0, 50, 3)])
    assert mlflow_client.get_run(run_id).data.metrics["m"] == 5.0
    # Each later batch against what is stored: (step, timestamp, value) decides, ties keep the stored point.
    for point, expected in [
        (Metric("m", 4.0, 100, 3), 5.0),  # same step and timestamp, smaller value
        (Metric("m", 6.0, 100, 3), 6.0),  # same step and timestamp, larger value
        (Metric("m", 2.0, 101, 3), 2.0),  # same step, later timestamp
        (Metric("m", 9.0, 1, 2), 2.0),  # earlier step
        (Metric("m", -1.0, 1, 4), -1.0),  # later step
    ]:
        mlflow_client.log_batch(run_id, metrics=[point, Metric("other", 1.0, 1, point.step)])
        assert mlflow_client.get_run(run_id).data.metrics["m"] == expected, point


def test_params_are_immutable(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    mlflow_client.log_param(run_id, "p", "1")
    mlflow_client.log_param(run_id, "p", "1")  # same value again is fine
    with pytest.raises(MlflowException, match="Changing param values is not allowed") as raised:
        mlflow_client.log_param(run_id, "p", "2")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    assert mlflow_client.get_run(run_id).data.params["p"] == "1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metrics": [Metric(f"m{i}", 1.0, 1, 0) for i in range(1001)]}, "at most 1000 metrics"),
        ({"params": [Param(f"p{i}", "v") for i in range(101)]}, "at most 100 params"),
        ({"tags": [RunTag(f"t{i}", "v") for i in range(101)]}, "at most 100 tags"),
    ],
)
def test_batch_limits_are_enforced(mlflow_client, experiment_id: str, kwargs, message: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    # The mlflow client splits large batches itself, so send the oversize batch over REST directly.
    from mlflow.utils.rest_utils import http_request

    body = {
        "run_id": run_id,
        "metrics": [
            {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
            for m in kwargs.get("metrics", [])
        ],
        "params": [{"key": p.key, "value": p.value} for p in kwargs.get("params", [])],
        "tags": [{"key": t.key, "value": t.value} for t in kwargs.get("tags", [])],
    }
    response = http_request(
        mlflow_client._tracking_client.store.get_host_creds(),
        "/api/2.0/mlflow/runs/log-batch",
        "POST",
        json=body,
        max_retries=0,
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]
    assert mlflow_client.get_run(run_id).data.metrics == {}


def test_oversize_values_are_refused(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    with pytest.raises(MlflowException) as raised:
        mlflow_client.set_tag(run_id, "k" * 251, "v")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        mlflow_client.set_tag(run_id, "big", "v" * 8001)


def test_metric_history_returns_every_point_in_order(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    points = [Metric("loss", 1.0 / (step + 1), 1000 + step, step) for step in range(2500)]
    for start in range(0, len(points), 1000):
        mlflow_client.log_batch(run_id, metrics=points[start : start + 1000])
    history = mlflow_client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(p.step, p.value, p.timestamp) for p in points]


def test_duplicate_points_are_kept_once(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    point = Metric("m", 1.0, 5, 1)
    mlflow_client.log_batch(run_id, metrics=[point, point])
    mlflow_client.log_batch(run_id, metrics=[point])
    assert len(mlflow_client.get_metric_history(run_id, "m")) == 1
    # A retried batch that overlaps what is stored: only the new points are added, NaN included.
    nan_point, new_point = Metric("m", math.nan, 6, 2), Metric("m", 2.0, 7, 3)
    mlflow_client.log_batch(run_id, metrics=[point, nan_point])
    mlflow_client.log_batch(run_id, metrics=[nan_point, point, new_point, nan_point])
    history = mlflow_client.get_metric_history(run_id, "m")
    assert [m.step for m in history] == [1, 2, 3]
    assert math.isnan(history[1].value)


def test_log_inputs_and_outputs(mlflow_client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name="train-set")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")  # logged once only
    fetched = mlflow_client.get_run(run.info.run_id)
    inputs = fetched.inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "train-set"
    assert {t.key: t.value for t in inputs[0].tags}["mlflow.data.context"] == "training"


def test_unknown_run_is_not_found(mlflow_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MlflowException) as raised:
        mlflow_client.get_run("0" * 32)
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
