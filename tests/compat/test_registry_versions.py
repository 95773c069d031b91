"""Model versions with the real ``mlflow`` client, on every backend × artifact store (local, S3).

Registering copies the files into the registry store; these tests check the copy (same bytes, a
digest), that it is read-only through the API, that it survives deleting the source, and the
version endpoints around it (search, stages, latest versions, errors with MLflow's codes).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.exceptions import MlflowException

from tests.conftest import unique
from tests.support.registry import model_files, new_version, run_with_model
from tests.support.servers import LiveServer

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
DIGEST_TAG = "runyard.content_digest"


def _download(uri: str) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp))
        found = {p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    # The mlflow client writes this file itself when downloading a models:/ URI.
    found.pop("registered_model_meta", None)
    return found


def _digest(files: dict[str, bytes]) -> str:
    manifest = hashlib.sha256()
    for path in sorted(files):
        manifest.update(f"{path}\0{hashlib.sha256(files[path]).hexdigest()}\n".encode())
    return f"sha256:{manifest.hexdigest()}"


def test_version_is_an_identical_copy_with_a_digest(store_mlflow_client, store_server):  # type: ignore[no-untyped-def]
    files = model_files()
    version = new_version(store_mlflow_client, files=files)
    assert (version.version, version.status, version.current_stage) == ("1", "READY", "None")
    assert version.tags[DIGEST_TAG] == _digest(files)
    uri = store_mlflow_client.get_model_version_download_uri(version.name, 1)
    assert uri.startswith("mlflow-artifacts:/_registry/")
    assert _download(uri) == files
    assert _download(f"models:/{version.name}/1") == files


def test_version_files_are_read_only(store_mlflow_client, store_server: LiveServer):  # type: ignore[no-untyped-def]
    version = new_version(store_mlflow_client)
    path = store_mlflow_client.get_model_version_download_uri(version.name, 1).removeprefix("mlflow-artifacts:/")
    with httpx.Client(base_url=store_server.url) as http:
        for method, target in (
            ("PUT", f"{PROXY}/{path}/MLmodel"),
            ("PUT", f"{PROXY}/{path}/extra.txt"),
            ("DELETE", f"{PROXY}/{path}/model.bin"),
            ("DELETE", f"{PROXY}/{path}"),
            ("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{path}"),
        ):
            response = http.request(method, target, content=b"tampered")
            assert response.status_code == 403, (method, target, response.text)
            assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert store_mlflow_client.get_model_version(version.name, 1).tags[DIGEST_TAG] == _digest(
        _download(f"models:/{version.name}/1")
    )


def test_deleting_the_source_leaves_the_version_loadable(store_mlflow_client, store_server):  # type: ignore[no-untyped-def]
    files = model_files()
    name = unique("survivor")
    store_mlflow_client.create_registered_model(name)
    run = run_with_model(store_mlflow_client, files)
    store_mlflow_client.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    run_path = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    with httpx.Client(base_url=store_server.url) as http:
        assert http.delete(f"{PROXY}/{run_path}").status_code == 200
    store_mlflow_client.delete_run(run.info.run_id)
    assert store_mlflow_client.list_artifacts(run.info.run_id) == []
    assert _download(f"models:/{name}/1") == files


def test_version_from_another_version_and_from_run_uri(store_mlflow_client):  # type: ignore[no-untyped-def]
    files = model_files()
    first = new_version(store_mlflow_client, files=files)
    copy = store_mlflow_client.create_model_version(first.name, f"models:/{first.name}/1")
    assert copy.version == "2"
    assert copy.tags[DIGEST_TAG] == first.tags[DIGEST_TAG]
    run = run_with_model(store_mlflow_client, files)
    from_runs_uri = store_mlflow_client.create_model_version(first.name, f"runs:/{run.info.run_id}/model")
    assert (from_runs_uri.version, from_runs_uri.run_id) == ("3", run.info.run_id)
    assert _download(f"models:/{first.name}/3") == files


def test_local_paths_and_relative_references_are_refused(store_mlflow_client):  # type: ignore[no-untyped-def]
    name = unique("refused")
    store_mlflow_client.create_registered_model(name)
    registry = store_mlflow_client._get_registry_client().store
    run = run_with_model(store_mlflow_client)
    for source in (
        "/etc",
        "file:///etc",
        "mlflow-artifacts:/../../etc",
        "mlflow-artifacts:/..%2f..%2fetc",
        f"{run.info.artifact_uri}/model/../../../../etc",
        "models:/m-doesnotexist",
    ):
        with pytest.raises(MlflowException) as refused:
            registry.create_model_version(name, source, run_id=run.info.run_id)
        assert refused.value.error_code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"), source
    assert store_mlflow_client.search_model_versions(f"name = '{name}'") == []


def test_sources_elsewhere_are_recorded_not_read(store_mlflow_client, store_server: LiveServer):  # type: ignore[no-untyped-def]
    """As with MLflow, a source the server does not hold is registered as a reference: never read or copied."""
    name = unique("reference")
    store_mlflow_client.create_registered_model(name)
    registry = store_mlflow_client._get_registry_client().store
    run = run_with_model(store_mlflow_client)
    sources = [
        "s3://someone-elses-bucket/model",
        f"{run.info.artifact_uri}/no-such-folder",  # nothing uploaded there (yet)
        "runs:/0123456789abcdef0123456789abcdef/model",  # a run of another tracking server
    ]
    for number, source in enumerate(sources, start=1):
        version = registry.create_model_version(name, source, run_id="0123456789abcdef0123456789abcdef")
        assert (version.version, version.status, version.source) == (str(number), "READY", source)
        assert DIGEST_TAG not in version.tags
        assert store_mlflow_client.get_model_version_download_uri(name, number) == source
    with httpx.Client(base_url=store_server.url) as http:
        listed = http.get(f"{PROXY[: -len('/artifacts')]}/artifacts", params={"path": "_registry"}).json()
    assert all(name not in entry["path"] for entry in listed.get("files", []))
    # Deleting such a version removes no files (it holds none) and leaves the others alone.
    store_mlflow_client.delete_model_version(name, 1)
    assert [v.version for v in store_mlflow_client.search_model_versions(f"name = '{name}'")] == ["3", "2"]


def test_get_update_delete_and_errors(mlflow_client):  # type: ignore[no-untyped-def]
    version = new_version(mlflow_client)
    name = version.name
    updated = mlflow_client.update_model_version(name, 1, description="tuned")
    assert updated.description == "tuned"
    mlflow_client.set_model_version_tag(name, 1, "validated", "yes")
    assert mlflow_client.get_model_version(name, 1).tags["validated"] == "yes"
    mlflow_client.delete_model_version_tag(name, 1, "validated")
    assert "validated" not in mlflow_client.get_model_version(name, 1).tags

    with pytest.raises(MlflowException) as unknown:
        mlflow_client.get_model_version(name, 7)
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as not_a_number:
        mlflow_client.get_model_version(name, "seven")
    assert not_a_number.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as no_model:
        mlflow_client.get_model_version(unique("ghost"), 1)
    assert no_model.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    mlflow_client.set_registered_model_alias(name, "champion", 1)
    mlflow_client.delete_model_version(name, 1)
    with pytest.raises(MlflowException) as deleted:
        mlflow_client.get_model_version(name, 1)
    assert deleted.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert mlflow_client.get_registered_model(name).aliases == {}
    # Numbers are never reused after a delete.
    assert new_version(mlflow_client, name).version == "2"


def test_stages_and_latest_versions(mlflow_client):  # type: ignore[no-untyped-def]
    name = new_version(mlflow_client).name
    for _ in range(2):
        new_version(mlflow_client, name)
    mlflow_client.transition_model_version_stage(name, 1, "production")
    mlflow_client.transition_model_version_stage(name, 2, "Staging")
    moved = mlflow_client.transition_model_version_stage(name, 3, "Production", archive_existing_versions=True)
    assert moved.current_stage == "Production"
    assert mlflow_client.get_model_version(name, 1).current_stage == "Archived"

    latest = {v.current_stage: v.version for v in mlflow_client.get_latest_versions(name)}
    assert latest == {"Archived": "1", "Staging": "2", "Production": "3"}
    assert [v.version for v in mlflow_client.get_latest_versions(name, stages=["staging"])] == ["2"]
    loaded = _download(f"models:/{name}/Production")
    assert "MLmodel" in loaded

    with pytest.raises(MlflowException) as bad_stage:
        mlflow_client.transition_model_version_stage(name, 1, "Shipped")
    assert bad_stage.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as bad_archive:
        mlflow_client.transition_model_version_stage(name, 1, "Archived", archive_existing_versions=True)
    assert bad_archive.value.error_code == "INVALID_PARAMETER_VALUE"


def test_search_model_versions(mlflow_client):  # type: ignore[no-untyped-def]
    first = new_version(mlflow_client)
    name = first.name
    second = new_version(mlflow_client, name)
    mlflow_client.set_model_version_tag(name, 2, "quality", "gold")
    other = new_version(mlflow_client)

    def versions(filter_string: str, **kwargs) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
        return [(v.name, v.version) for v in mlflow_client.search_model_versions(filter_string, **kwargs)]

    assert versions(f"name = '{name}'") == [(name, "2"), (name, "1")]
    assert versions(f"name = '{name}'", order_by=["version_number ASC"]) == [(name, "1"), (name, "2")]
    assert versions(f"run_id = '{second.run_id}'") == [(name, "2")]
    assert versions(f"name IN ('{name}', '{other.name}') AND version_number = 1", order_by=["name"]) == sorted(
        [(name, "1"), (other.name, "1")]
    )
    assert versions(f"name = '{name}' AND version_number > 1") == [(name, "2")]
    assert versions(f"name = '{name}' AND tags.quality = 'gold'") == [(name, "2")]
    assert versions(f"source_path LIKE '%{second.run_id}%'") == [(name, "2")]

    page = mlflow_client.search_model_versions(f"name = '{name}'", max_results=1)
    assert len(page) == 1 and page.token
    rest = mlflow_client.search_model_versions(f"name = '{name}'", max_results=1, page_token=page.token)
    assert [v.version for v in rest] == ["1"] and not rest.token

    for bad in ("tags.quality > 'a'", "stage = 'x'", "version_number = 'one'", "run_id IN ()"):
        with pytest.raises(MlflowException) as invalid:
            mlflow_client.search_model_versions(bad)
        assert invalid.value.error_code == "INVALID_PARAMETER_VALUE", bad
