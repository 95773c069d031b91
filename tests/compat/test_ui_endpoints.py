"""The endpoints MLflow's web UI calls outside the REST services, as its UI and fluent helpers use them."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow

from tests.conftest import unique
from tests.support.servers import LiveServer


def test_history_bulk_and_run_file_downloads(server: LiveServer, mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("ui"))
    runs = [mlflow_client.create_run(experiment_id).info.run_id for _ in range(2)]
    for index, run_id in enumerate(runs):
        for step in range(3):
            mlflow_client.log_metric(run_id, "loss", index + step / 10, timestamp=1000 + step, step=step)
    (tmp_path / "notes.txt").write_text("hello")
    mlflow_client.log_artifact(runs[0], str(tmp_path / "notes.txt"), artifact_path="docs")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        bulk = http.get(
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk", params={"run_id": runs, "metric_key": "loss"}
        ).json()["metrics"]
        assert [(point["run_id"], point["step"]) for point in bulk] == [
            (run_id, step) for run_id in sorted(runs) for step in range(3)
        ]
        assert {point["key"] for point in bulk} == {"loss"}
        limited = http.get(
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
            params={"run_id": runs, "metric_key": "loss", "max_results": "2"},
        ).json()["metrics"]
        assert len(limited) == 2
        missing = http.get("/ajax-api/2.0/mlflow/metrics/get-history-bulk", params={"metric_key": "loss"})
        assert missing.status_code == 400
        assert "at least one run_id" in missing.json()["message"]

        file = http.get("/get-artifact", params={"run_uuid": runs[0], "path": "docs/notes.txt"})
        assert (file.status_code, file.content, file.headers["content-type"]) == (200, b"hello", "text/plain")
        escape = http.get("/get-artifact", params={"run_id": runs[0], "path": "../../../etc/passwd"})
        assert escape.status_code == 400
        assert http.get("/get-artifact", params={"run_id": runs[0], "path": "docs/none.txt"}).status_code == 404


def test_ui_upload_and_model_version_files(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    experiment_id = mlflow_client.create_experiment(unique("ui-upload"))
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    with httpx.Client(base_url=server.url, timeout=60) as http:
        upload = "/ajax-api/2.0/mlflow/upload-artifact"
        assert (
            http.post(upload, params={"run_uuid": run_id, "path": "img/a.png"}, content=b"\x89PNG").status_code == 200
        )
        assert http.get("/get-artifact", params={"run_id": run_id, "path": "img/a.png"}).content == b"\x89PNG"
        assert http.post(upload, params={"run_uuid": run_id, "path": "b.txt"}, content=b"").status_code == 400
        too_big = http.post(upload, params={"run_uuid": run_id, "path": "c.bin"}, content=b"0" * (10 * 1024 * 1024 + 1))
        assert too_big.status_code == 400
        assert "10MB" in too_big.json()["message"]

        name = unique("ui-model")
        mlflow_client.create_registered_model(name)
        source = f"{mlflow_client.get_run(run_id).info.artifact_uri}/img"
        mlflow_client.create_model_version(name, source, run_id=run_id)
        version_file = http.get("/model-versions/get-artifact", params={"name": name, "version": "1", "path": "a.png"})
        assert (version_file.status_code, version_file.content) == (200, b"\x89PNG")
        assert version_file.headers["content-type"] == "image/png"
    assert mlflow.__version__ == "3.17.2"


def test_search_datasets_lists_what_runs_consumed(server: LiveServer, mlflow_client) -> None:  # type: ignore[no-untyped-def]
    from mlflow.entities import Dataset, DatasetInput, InputTag

    experiment_id = mlflow_client.create_experiment(unique("ui-datasets"))
    run_id = mlflow_client.create_run(experiment_id).info.run_id
    train = Dataset("train", "d1", "local", "{}")
    inputs = [
        DatasetInput(train, [InputTag("mlflow.data.context", "training")]),
        DatasetInput(Dataset("eval", "d2", "local", "{}"), []),
    ]
    mlflow_client.log_inputs(run_id, datasets=inputs)
    with httpx.Client(base_url=server.url, timeout=60) as http:
        found = http.post(
            "/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": [experiment_id, "987654"]}
        ).json()["dataset_summaries"]
        assert found == [
            {"experiment_id": experiment_id, "name": "eval", "digest": "d2"},
            {"experiment_id": experiment_id, "name": "train", "digest": "d1", "context": "training"},
        ]
        none = http.post("/ajax-api/2.0/mlflow/experiments/search-datasets", json={"experiment_ids": []})
        assert none.status_code == 400
        assert "at least one experiment_id" in none.json()["message"]
