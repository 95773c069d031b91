"""Artifacts through the server's proxy with the real ``mlflow`` client, on every backend × store.

Runs get ``mlflow-artifacts:/<experiment>/<run>/artifacts`` URIs, so every upload, listing and
download below crosses the live server and lands in its store (a local directory or a bucket on a
moto S3 server). Raw HTTP is used only where the ``mlflow`` client has no call (DELETE of a proxied
path) or where the request must be malformed on purpose (path escapes).
"""

from __future__ import annotations

import filecmp
import os
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpcore
import httpx
import mlflow
import psutil
import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

from tests.conftest import ServerPool, unique
from tests.support.servers import LiveServer

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MIB = 1 << 20


def _proxy_path(artifact_uri: str) -> str:
    """``mlflow-artifacts:/7/abc/artifacts`` → ``7/abc/artifacts`` (the path below the store root)."""
    assert artifact_uri.startswith("mlflow-artifacts:/")
    return artifact_uri.removeprefix("mlflow-artifacts:").strip("/")


def _make_tree(root: Path) -> dict[str, bytes]:
    files = {
        "model.pkl": os.urandom(3000),
        "README.md": b"# model\n",
        "conf/params.yaml": b"lr: 0.1\n",
        "conf/deep/nested/weights.bin": os.urandom(70_000),
        "plots/loss.png": os.urandom(1234),
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def _new_run(client):  # type: ignore[no-untyped-def]
    experiment_id = client.create_experiment(unique("artifacts"))
    return client.create_run(experiment_id)


def test_log_artifact_lists_at_the_root_with_its_size(store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    source = tmp_path / "metrics.json"
    source.write_bytes(b'{"accuracy": 0.93}')
    store_mlflow_client.log_artifact(run.info.run_id, str(source))

    listed = store_mlflow_client.list_artifacts(run.info.run_id)
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [("metrics.json", False, 18)]
    assert run.info.artifact_uri == f"mlflow-artifacts:/{run.info.experiment_id}/{run.info.run_id}/artifacts"


def test_log_artifacts_tree_lists_and_downloads(store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    files = _make_tree(tmp_path / "src")
    store_mlflow_client.log_artifacts(run.info.run_id, str(tmp_path / "src"), artifact_path="model")
    root = run.info.artifact_uri

    top = store_mlflow_client.list_artifacts(run.info.run_id)
    assert [(f.path, f.is_dir) for f in top] == [("model", True)]
    model = mlflow.artifacts.list_artifacts(artifact_uri=f"{root}/model")
    assert [(f.path, f.is_dir, f.file_size) for f in model] == [
        ("model/README.md", False, len(files["README.md"])),
        ("model/conf", True, None),
        ("model/model.pkl", False, 3000),
        ("model/plots", True, None),
    ]
    nested = mlflow.artifacts.list_artifacts(artifact_uri=f"{root}/model/conf/deep/nested")
    assert [(f.path, f.file_size) for f in nested] == [("nested/weights.bin", 70_000)]

    directory = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{root}/model", dst_path=str(tmp_path / "d")))
    downloaded = {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*") if p.is_file()}
    assert downloaded == files

    single = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{root}/model/conf/params.yaml", dst_path=str(tmp_path / "f")
    )
    assert Path(single).read_bytes() == b"lr: 0.1\n"


def test_tracking_listing_endpoint_gives_run_relative_paths(
    store_server: LiveServer, store_mlflow_client, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    _make_tree(tmp_path / "src")
    store_mlflow_client.log_artifacts(run.info.run_id, str(tmp_path / "src"))
    for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow"):
        body = httpx.get(
            f"{store_server.url}{prefix}/artifacts/list", params={"run_id": run.info.run_id, "path": "conf"}
        ).json()
        assert body["root_uri"] == run.info.artifact_uri
        assert body["files"] == [
            {"path": "conf/deep", "is_dir": True},
            {"path": "conf/params.yaml", "is_dir": False, "file_size": 8},
        ]
    missing = httpx.get(f"{store_server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": "0" * 32})
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_run_based_listing_and_download_of_sub_paths(store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The everyday calls: by run id and a path inside the run (these also consult logged models).
    run = _new_run(store_mlflow_client)
    files = _make_tree(tmp_path / "src")
    store_mlflow_client.log_artifacts(run.info.run_id, str(tmp_path / "src"))
    listed = store_mlflow_client.list_artifacts(run.info.run_id, "conf")
    assert [(f.path, f.is_dir) for f in listed] == [("conf/deep", True), ("conf/params.yaml", False)]
    directory = Path(store_mlflow_client.download_artifacts(run.info.run_id, "conf", str(tmp_path / "dl")))
    assert (directory / "deep" / "nested" / "weights.bin").read_bytes() == files["conf/deep/nested/weights.bin"]
    single = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="plots/loss.png")
    assert Path(single).read_bytes() == files["plots/loss.png"]


def test_overwrite_replaces_the_file(store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    source = tmp_path / "notes.txt"
    source.write_text("first version, rather long")
    store_mlflow_client.log_artifact(run.info.run_id, str(source))
    source.write_text("second")
    store_mlflow_client.log_artifact(run.info.run_id, str(source))

    [info] = store_mlflow_client.list_artifacts(run.info.run_id)
    assert (info.path, info.file_size) == ("notes.txt", 6)
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/notes.txt", dst_path=str(tmp_path / "out")
    )
    assert Path(path).read_text() == "second"


def test_delete_file_and_directory_over_http(store_server: LiveServer, store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    _make_tree(tmp_path / "src")
    store_mlflow_client.log_artifacts(run.info.run_id, str(tmp_path / "src"))
    base = f"{store_server.url}{PROXY}/{_proxy_path(run.info.artifact_uri)}"

    assert httpx.delete(f"{base}/model.pkl").status_code == 200
    assert httpx.delete(f"{base}/conf").status_code == 200
    # Deleting what is already gone is not an error (as with MLflow).
    assert httpx.delete(f"{base}/conf").status_code == 200

    listed = store_mlflow_client.list_artifacts(run.info.run_id)
    assert [f.path for f in listed] == ["README.md", "plots"]
    gone = httpx.get(f"{base}/conf/params.yaml")
    assert gone.status_code == 404
    assert gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_file_is_404_and_directory_download_is_400(
    store_server: LiveServer, store_mlflow_client, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    base = f"{store_server.url}{PROXY}/{_proxy_path(run.info.artifact_uri)}"
    missing = httpx.get(f"{base}/no/such/file.bin")
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException):
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"{run.info.artifact_uri}/no-such.txt", dst_path=str(tmp_path / "out")
        )
    assert httpx.get(f"{store_server.url}{PROXY}", params={"path": _proxy_path(run.info.artifact_uri)}).json() == {}


def test_download_headers_and_ajax_prefix(store_server: LiveServer, store_mlflow_client) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    url = f"{store_server.url}/ajax-api/2.0/mlflow-artifacts/artifacts/{_proxy_path(run.info.artifact_uri)}/page.html"
    assert httpx.put(url, content=b"<script>alert(1)</script>").status_code == 200
    response = httpx.get(url)
    assert response.content == b"<script>alert(1)</script>"
    # Served as a download, never rendered on the server's origin.
    assert response.headers["content-disposition"] == 'attachment; filename="page.html"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == "25"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("artifact_store", ["local"], indirect=True)
def test_download_content_types_are_mlflows(store_server: LiveServer, store_mlflow_client) -> None:  # type: ignore[no-untyped-def]
    """MLflow's MIME types (mlflow/utils/mime_type_utils.py): bare text/plain for text files, no charset."""
    run = _new_run(store_mlflow_client)
    base = f"{store_server.url}/api/2.0/mlflow-artifacts/artifacts/{_proxy_path(run.info.artifact_uri)}"
    expected = {
        "notes.txt": "text/plain",
        "MLmodel": "text/plain",
        "MLproject": "text/plain",
        "conf.yaml": "text/plain",
        "plot.png": "image/png",
        "report.pdf": "application/pdf",
        "weights.bin": "application/octet-stream",
        "no-extension": "application/octet-stream",
    }
    with httpx.Client() as http:
        for name, content_type in expected.items():
            assert http.put(f"{base}/{name}", content=b"x").status_code == 200
            assert http.get(f"{base}/{name}").headers["content-type"] == content_type, name


def test_large_file_goes_through_multipart_upload(
    store_mlflow_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # 5 MiB parts: the smallest S3 accepts for all but the last part.
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MIB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(5 * MIB))
    run = _new_run(store_mlflow_client)
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(12 * MIB + 123))

    # A spy, not a mock: it records the client's multipart calls and lets them through.
    completions: list[list[int]] = []
    original = HttpArtifactRepository.complete_multipart_upload

    def spy(self, local_file, upload_id, parts=None, artifact_path=None):  # type: ignore[no-untyped-def]
        completions.append([part.part_number for part in parts])
        return original(self, local_file, upload_id, parts, artifact_path)

    with mock.patch.object(HttpArtifactRepository, "complete_multipart_upload", spy):
        store_mlflow_client.log_artifact(run.info.run_id, str(source), artifact_path="ckpt")
    assert completions == [[1, 2, 3]]

    [info] = mlflow.artifacts.list_artifacts(artifact_uri=f"{run.info.artifact_uri}/ckpt")
    assert (info.path, info.file_size) == ("ckpt/weights.bin", 12 * MIB + 123)
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/ckpt/weights.bin", dst_path=str(tmp_path / "out")
    )
    assert filecmp.cmp(path, source, shallow=False)


def test_multipart_protocol_errors_and_abort(store_server: LiveServer, store_mlflow_client) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    directory = _proxy_path(run.info.artifact_uri)
    mpu = f"{store_server.url}/api/2.0/mlflow-artifacts/mpu"
    created = httpx.post(f"{mpu}/create/{directory}", json={"path": "/home/me/big.bin", "num_parts": 2}).json()
    upload_id = created["upload_id"]
    assert [c["part_number"] for c in created["credentials"]] == [1, 2]
    part = httpx.put(created["credentials"][1]["url"], content=b"tail")
    assert part.status_code == 200 and part.headers["etag"]

    never_sent = httpx.post(
        f"{mpu}/complete/{directory}",
        json={"path": "/home/me/big.bin", "upload_id": upload_id, "parts": [{"part_number": 1, "etag": "x"}]},
    )
    assert never_sent.status_code == 400
    assert never_sent.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    bad_count = httpx.post(f"{mpu}/create/{directory}", json={"path": "big.bin", "num_parts": 0})
    assert bad_count.status_code == 400

    aborted = httpx.post(f"{mpu}/abort/{directory}", json={"path": "/home/me/big.bin", "upload_id": upload_id})
    assert aborted.status_code == 200
    assert store_mlflow_client.list_artifacts(run.info.run_id) == []


def test_names_with_spaces_and_unicode_roundtrip(store_mlflow_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = _new_run(store_mlflow_client)
    source = tmp_path / "r\u00e9sultats finaux (1).txt"
    source.write_text("ok")
    store_mlflow_client.log_artifact(run.info.run_id, str(source), artifact_path="rapport \u00e9t\u00e9")
    [info] = mlflow.artifacts.list_artifacts(artifact_uri=f"{run.info.artifact_uri}/rapport \u00e9t\u00e9")
    assert info.path == "rapport \u00e9t\u00e9/r\u00e9sultats finaux (1).txt"
    path = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{run.info.artifact_uri}/rapport \u00e9t\u00e9", dst_path=str(tmp_path / "out")
    )
    assert (Path(path) / "r\u00e9sultats finaux (1).txt").read_text() == "ok"


def test_client_hanging_up_mid_upload_leaves_no_partial_file(store_server: LiveServer, s3_server) -> None:  # type: ignore[no-untyped-def]
    folder = f"hangup/{unique('h')}"
    url = httpx.URL(f"{store_server.url}{PROXY}/{folder}/model.bin")
    assert httpx.put(url, content=b"the previous version").status_code == 200
    # Announce 40 MiB, send 20 (several S3 parts), then drop the connection.
    with socket.create_connection((url.host, url.port)) as sock:
        sock.sendall(f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nContent-Length: {40 * MIB}\r\n\r\n".encode())
        for _ in range(20):
            sock.sendall(os.urandom(MIB))

    def leftovers() -> list[str]:
        if store_server.artifacts.startswith("s3://"):
            bucket = store_server.artifacts.removeprefix("s3://").split("/", 1)[0]
            uploads = s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            return [u["Key"] for u in uploads if folder in u["Key"]]
        return [p.name for p in Path(store_server.artifacts, folder).iterdir() if p.name != "model.bin"]

    deadline = time.monotonic() + 20
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert leftovers() == []
    assert httpx.get(url).content == b"the previous version"


ESCAPES = [
    pytest.param("{run}/../../../{marker}", id="dot-dot"),
    pytest.param("{run}/%2e%2e/%2e%2e/%2e%2e/{marker}", id="encoded-dots"),
    pytest.param("{run}/..%2f..%2f..%2f{marker}", id="encoded-slash"),
    pytest.param("{run}/%252e%252e/%252e%252e/{marker}", id="double-encoded"),
    pytest.param("/{tmp}/{marker}", id="absolute"),
    pytest.param("%2f{tmp}%2f{marker}", id="encoded-absolute"),
    pytest.param("{run}/..\\..\\{marker}", id="backslash"),
    pytest.param("{run}/a%00{marker}", id="nul"),
]


@pytest.mark.parametrize("template", ESCAPES)
def test_paths_escaping_the_root_are_refused(
    server_pool: ServerPool, artifact_store: str, s3_server, template: str
) -> None:  # type: ignore[no-untyped-def]
    # Path checks do not involve the database, so one backend suffices; both stores are covered.
    store_server = server_pool.get("sqlite", artifact_store)
    run_path = f"1/{uuid.uuid4().hex}/artifacts"
    marker = unique("escape") + ".txt"
    tmp = str(store_server.data_dir).strip("/")
    path = template.format(run=run_path, marker=marker, tmp=tmp)
    # httpx normalises "../" out of URLs, so the requests go through its transport layer (httpcore) verbatim.
    url = httpx.URL(store_server.url)
    with httpcore.ConnectionPool() as pool:
        for method, target, body in (
            ("PUT", f"{PROXY}/{path}", b"pwned"),
            ("GET", f"{PROXY}/{path}", b""),
            ("DELETE", f"{PROXY}/{path}", b""),
            ("GET", f"{PROXY}?path={path.replace('/', '%2f')}", b""),
            ("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{path}", b'{"path": "x.bin", "num_parts": 1}'),
        ):
            response = pool.request(
                method,
                httpcore.URL(scheme=b"http", host=url.host.encode(), port=url.port, target=target.encode()),
                content=body,
            )
            assert response.status == 400, (method, target, response.content)
            assert b"INVALID_PARAMETER_VALUE" in response.content

    # Nothing was written anywhere: not beside the data directory, not elsewhere in the bucket.
    assert not list(store_server.data_dir.parent.rglob(f"*{marker}*"))
    if store_server.artifacts.startswith("s3://"):
        bucket = store_server.artifacts.removeprefix("s3://").split("/", 1)[0]
        keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert not [key for key in keys if marker in key]


# -- memory: a 2 GB file through a live server --------------------------------------------------------

TWO_GB = 2 * 1024 * MIB


class _PeakRss:
    """Samples a process's resident memory in a background thread; ``peak`` is the highest seen."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _generated(total: int, crc: list[int]) -> Iterator[bytes]:
    """``total`` bytes made on the fly (never held whole), tracking their CRC in ``crc[0]``."""
    block = os.urandom(MIB)
    for index in range(total // MIB):
        chunk = index.to_bytes(8, "big") + block[8:]
        crc[0] = zlib.crc32(chunk, crc[0])
        yield chunk


@pytest.mark.slow
def test_two_gigabyte_upload_and_download_keep_server_memory_flat(server_pool: ServerPool) -> None:
    server = server_pool.start_new("sqlite", "local")
    assert server.process is not None
    url = f"{server.url}{PROXY}/memory/{unique('big')}/blob.bin"
    # Warm up the code paths (imports, thread pool) so they are not counted as growth.
    with httpx.Client(timeout=600) as client:
        client.put(url, content=b"warm-up").raise_for_status()
        client.get(url).raise_for_status()
        baseline = psutil.Process(server.process.pid).memory_info().rss

        sent_crc = [0]
        began = time.perf_counter()
        with _PeakRss(server.process.pid) as upload_rss:
            client.put(url, content=_generated(TWO_GB, sent_crc)).raise_for_status()
        upload_seconds = time.perf_counter() - began

        received, received_crc = 0, 0
        began = time.perf_counter()
        with _PeakRss(server.process.pid) as download_rss, client.stream("GET", url) as response:
            response.raise_for_status()
            assert response.headers["content-length"] == str(TWO_GB)
            for chunk in response.iter_raw():
                received += len(chunk)
                received_crc = zlib.crc32(chunk, received_crc)
        download_seconds = time.perf_counter() - began
        # pytest keeps the temp directories of recent sessions: do not leave 2 GiB behind in each.
        client.delete(url).raise_for_status()

    assert (received, received_crc) == (TWO_GB, sent_crc[0])
    growth = max(upload_rss.peak, download_rss.peak) - baseline
    print(
        f"2 GiB through the proxy: upload {2048 / upload_seconds:.0f} MiB/s, "
        f"download {2048 / download_seconds:.0f} MiB/s, server RSS growth {growth / MIB:.1f} MiB"
    )
    assert growth < 100 * MIB, f"server RSS grew by {growth / MIB:.0f} MiB while streaming 2 GiB"
