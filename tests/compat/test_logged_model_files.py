"""One file of a logged model, as MLflow's UI downloads it from
``/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files`` — on every backend, and with auth on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from tests.compat.test_auth import ADMIN, ADMIN_PASSWORD, AUTH_ENV
from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer


def _files_url(server: LiveServer, model_id: str) -> str:
    return f"{server.url}/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files"


def _model_with_files(client: MlflowClient, tmp_path: Path) -> str:
    experiment_id = client.create_experiment(unique("lm-files"))
    model = client.create_logged_model(experiment_id, name="clf")
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "weights.bin").write_bytes(b"\x01\x02\x03")
    client.log_model_artifacts(model.model_id, str(tmp_path))
    return str(model.model_id)


def test_the_ui_downloads_a_logged_models_file(server: LiveServer, mlflow_client: MlflowClient, tmp_path: Path) -> None:
    model_id = _model_with_files(mlflow_client, tmp_path)
    url = _files_url(server, model_id)
    with httpx.Client(timeout=60) as http:
        mlmodel = http.get(url, params={"artifact_file_path": "MLmodel"})
        assert (mlmodel.status_code, mlmodel.content) == (200, b"flavors: {}\n")
        assert mlmodel.headers["content-type"] == "text/plain"
        assert "attachment" in mlmodel.headers["content-disposition"]
        weights = http.get(url, params={"artifact_file_path": "sub/weights.bin"})
        assert (weights.status_code, weights.content) == (200, b"\x01\x02\x03")
        assert weights.headers["content-type"] == "application/octet-stream"

        missing_param = http.get(url)
        assert missing_param.status_code == 400
        assert missing_param.json()["message"] == 'Request must include the "artifact_file_path" query parameter.'
        escape = http.get(url, params={"artifact_file_path": "../../../etc/passwd"})
        assert escape.status_code == 400
        assert http.get(url, params={"artifact_file_path": "sub/none.bin"}).status_code == 404
        unknown = http.get(_files_url(server, "m-doesnotexist"), params={"artifact_file_path": "MLmodel"})
        assert unknown.status_code == 404
        assert unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_a_logged_models_file_needs_read_on_its_experiment(
    server_pool: ServerPool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from mlflow.server import get_app_client

    server = server_pool.shared("compat-auth", "sqlite", extra_env=AUTH_ENV)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)
    client = MlflowClient(tracking_uri=server.url)
    model_id = _model_with_files(client, tmp_path)
    experiment_id = client.get_logged_model(model_id).experiment_id
    member = unique("member")
    get_app_client("basic-auth", tracking_uri=server.url).create_user(member, "member password long")
    as_member = (member, "member password long")
    url = _files_url(server, model_id)

    assert httpx.get(url, params={"artifact_file_path": "MLmodel"}, timeout=60).status_code == 401
    refused = httpx.get(url, params={"artifact_file_path": "MLmodel"}, auth=as_member, timeout=60)
    assert refused.status_code == 403
    get_app_client("basic-auth", tracking_uri=server.url).grant_user_permission(
        member, "experiment", experiment_id, "READ"
    )
    allowed = httpx.get(url, params={"artifact_file_path": "MLmodel"}, auth=as_member, timeout=60)
    assert (allowed.status_code, allowed.content) == (200, b"flavors: {}\n")
