"""The promotion path teams use, end to end with a real scikit-learn model and the real ``mlflow`` client:
``log_model(..., registered_model_name=…)`` → alias → ``pyfunc.load_model("models:/NAME@champion")``
predicts exactly what the trained model predicts — also after the run and its artifacts are deleted.

Runs on every backend × artifact store, and on a server whose registry location is an S3 bucket.
"""

from __future__ import annotations

import httpx
import mlflow
import numpy as np
import pytest
from sklearn.datasets import make_regression
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tests.conftest import ServerPool, unique
from tests.support.s3 import S3Server
from tests.support.servers import LiveServer

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def _promote_and_load(server: LiveServer) -> None:
    features, target = make_regression(n_samples=200, n_features=5, noise=0.1, random_state=7)
    model = make_pipeline(StandardScaler(), Ridge(alpha=0.5)).fit(features, target)
    expected = model.predict(features[:20])
    name = unique("ridge")
    mlflow.set_experiment(unique("e2e"))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
    assert str(info.registered_model_version) == "1"
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", 1)

    by_alias = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    by_version = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(by_alias.predict(features[:20]), expected)
    np.testing.assert_array_equal(by_version.predict(features[:20]), expected)

    # Production must not depend on the training run: delete the run and every file it produced.
    logged = client.get_logged_model(info.model_id)
    experiment_root = logged.artifact_location.removeprefix("mlflow-artifacts:/").split("/")[0]
    with httpx.Client(base_url=server.url) as http:
        for path in (logged.artifact_location, run.info.artifact_uri):
            assert http.delete(f"{PROXY}/{path.removeprefix('mlflow-artifacts:/')}").status_code == 200
        listing = http.get(PROXY, params={"path": f"{experiment_root}/models/{info.model_id}/artifacts"}).json()
        assert listing.get("files", []) == []
    client.delete_run(run.info.run_id)
    client.delete_logged_model(info.model_id)
    reloaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    np.testing.assert_array_equal(reloaded.predict(features[:20]), expected)


def test_register_alias_load_predict(store_mlflow_client, store_server: LiveServer):  # type: ignore[no-untyped-def]
    _promote_and_load(store_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def s3_registry_server(
    request: pytest.FixtureRequest, server_pool: ServerPool, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> LiveServer:
    """A server with artifacts and the registry in S3 (separate buckets)."""
    bucket = s3_server.create_bucket(f"ry-registry-{unique('b')[2:]}")
    server = server_pool.start_new(
        str(request.param), "s3", extra_args=["--registry-destination", f"s3://{bucket}/models"]
    )
    server.extra["registry_bucket"] = bucket
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    return server


def test_registry_in_s3(s3_registry_server: LiveServer, s3_server: S3Server) -> None:
    _promote_and_load(s3_registry_server)
    keys = [
        item["Key"]
        for item in s3_server.client()
        .list_objects_v2(Bucket=s3_registry_server.extra["registry_bucket"], Prefix="models/")
        .get("Contents", [])
    ]
    assert any(key.endswith("/1/MLmodel") for key in keys), keys
