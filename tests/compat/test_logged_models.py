"""MLflow 3 logged models with the real ``mlflow`` client: create, finalize, get, search, tags, params,
artifacts, delete — on every backend."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from tests.conftest import unique


def test_create_finalize_get_delete(mlflow_client):  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("lm"))
    run = mlflow_client.create_run(experiment_id)
    model = mlflow_client.create_logged_model(
        experiment_id, name="clf", source_run_id=run.info.run_id, params={"lr": "0.1"}, tags={"team": "x"},
        model_type="sklearn",
    )  # fmt: skip
    assert model.model_id.startswith("m-")
    assert model.status == LoggedModelStatus.PENDING
    assert model.artifact_location == f"mlflow-artifacts:/{experiment_id}/models/{model.model_id}/artifacts"
    assert (model.params, model.tags, model.model_type) == ({"lr": "0.1"}, {"team": "x"}, "sklearn")

    ready = mlflow_client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY
    fetched = mlflow_client.get_logged_model(model.model_id)
    assert (fetched.name, fetched.source_run_id, fetched.experiment_id) == ("clf", run.info.run_id, experiment_id)

    mlflow_client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as gone:
        mlflow_client.get_logged_model(model.model_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_tags_params_and_artifacts(mlflow_client):  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("lm-tags"))
    model = mlflow_client.create_logged_model(experiment_id)
    mlflow_client.set_logged_model_tags(model.model_id, {"a": "1", "b": "2"})
    mlflow_client.delete_logged_model_tag(model.model_id, "a")
    mlflow_client.log_model_params(model.model_id, {f"p{i}": str(i) for i in range(150)})
    fetched = mlflow_client.get_logged_model(model.model_id)
    assert fetched.tags == {"b": "2"}
    assert len(fetched.params) == 150
    with pytest.raises(MlflowException) as no_tag:
        mlflow_client.delete_logged_model_tag(model.model_id, "never")
    assert no_tag.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "MLmodel").write_text("flavors: {}\n")
        (Path(tmp) / "sub").mkdir()
        (Path(tmp) / "sub" / "weights.bin").write_bytes(b"\x00" * 100)
        mlflow_client.log_model_artifacts(model.model_id, tmp)
    listed = sorted(f.path for f in mlflow_client.list_logged_model_artifacts(model.model_id))
    assert listed == ["MLmodel", "sub"]


def test_search_logged_models(mlflow_client):  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("lm-search"))
    a = mlflow_client.create_logged_model(experiment_id, name="alpha", params={"depth": "3"}, tags={"k": "v"})
    b = mlflow_client.create_logged_model(experiment_id, name="beta", params={"depth": "5"})
    mlflow_client.finalize_logged_model(b.model_id, LoggedModelStatus.READY)

    def ids(**kwargs) -> list[str]:  # type: ignore[no-untyped-def]
        return [m.model_id for m in mlflow_client.search_logged_models(experiment_ids=[experiment_id], **kwargs)]

    assert ids() == [b.model_id, a.model_id]  # newest first
    assert ids(filter_string="name = 'alpha'") == [a.model_id]
    assert ids(filter_string="params.depth = '5'") == [b.model_id]
    assert ids(filter_string="tags.k = 'v'") == [a.model_id]
    assert ids(order_by=[{"field_name": "name", "ascending": True}]) == [a.model_id, b.model_id]
    first = mlflow_client.search_logged_models(experiment_ids=[experiment_id], max_results=1)
    assert [m.model_id for m in first] == [b.model_id] and first.token
    second = mlflow_client.search_logged_models(experiment_ids=[experiment_id], max_results=1, page_token=first.token)
    assert [m.model_id for m in second] == [a.model_id]
    with pytest.raises(MlflowException) as invalid:
        mlflow_client.search_logged_models(experiment_ids=[experiment_id], filter_string="nonsense = 1")
    assert invalid.value.error_code == "INVALID_PARAMETER_VALUE"


def test_unknown_experiment_and_model(mlflow_client):  # type: ignore[no-untyped-def]
    with pytest.raises(MlflowException) as no_experiment:
        mlflow_client.create_logged_model("987654321")
    assert no_experiment.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as bad_name:
        mlflow_client.create_logged_model("0", name="a/b")
    assert bad_name.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_model:
        mlflow_client.get_logged_model("m-00000000000000000000000000000000")
    assert no_model.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_metrics_logged_against_a_model_show_on_the_model(mlflow_client):  # type: ignore[no-untyped-def]
    import mlflow

    experiment_id = mlflow_client.create_experiment(unique("lm-metrics"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        model = mlflow_client.create_logged_model(experiment_id, source_run_id=run.info.run_id)
        mlflow.log_metric("accuracy", 0.8, step=1, model_id=model.model_id)
        mlflow.log_metric("accuracy", 0.9, step=2, model_id=model.model_id)
    metrics = {m.key: m.value for m in mlflow_client.get_logged_model(model.model_id).metrics}
    assert metrics == {"accuracy": 0.9}
    # The run records the same points as ordinary run metrics.
    assert [m.value for m in mlflow_client.get_metric_history(run.info.run_id, "accuracy")] == [0.8, 0.9]
