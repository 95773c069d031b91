"""Shared fixtures: live servers per database backend and artifact store, an S3 server, mlflow clients."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import S3Server, start_s3_server
from tests.support.servers import LiveServer, make_server
from tests.support.services import BACKENDS, fresh_database

STORES = ("local", "s3")


class ServerPool:
    """Starts each (backend, store) server once per test session (per xdist worker) and reuses it."""

    def __init__(self, root: Path, s3_factory: object) -> None:
        self.root = root
        self._s3_factory = s3_factory
        self._servers: dict[tuple[str, str], LiveServer] = {}
        self._stack = contextlib.ExitStack()

    def get(self, backend: str, store: str = "local") -> LiveServer:
        key = (backend, store)
        if key not in self._servers:
            self._servers[key] = self.start_new(backend, store)
        return self._servers[key]

    def shared(self, name: str, backend: str, *, extra_env: dict[str, str]) -> LiveServer:
        """A server with its own settings, started once under ``name`` and reused by every test asking for it."""
        key = (backend, f"shared:{name}")
        if key not in self._servers:
            self._servers[key] = self.start_new(backend, extra_env=extra_env)
        return self._servers[key]

    def start_new(
        self,
        backend: str,
        store: str = "local",
        *,
        extra_args: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> LiveServer:
        data_dir = self.root / f"{backend}-{store}-{uuid.uuid4().hex[:6]}"
        data_dir.mkdir(parents=True)
        database_url = self._stack.enter_context(fresh_database(backend, str(data_dir)))
        s3_endpoint = None
        if store == "s3":
            s3: S3Server = self._s3_factory()  # type: ignore[operator]
            bucket = s3.create_bucket(f"ry-{uuid.uuid4().hex[:10]}")
            artifacts = f"s3://{bucket}/artifacts"
            s3_endpoint = s3.endpoint
        else:
            artifacts = str(data_dir / "artifacts")
        server = make_server(
            backend=backend,
            database_url=database_url,
            data_dir=data_dir,
            artifacts=artifacts,
            s3_endpoint=s3_endpoint,
            extra_args=extra_args,
            extra_env=extra_env,
        )
        server.start()
        self._stack.callback(server.stop)
        return server

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server = start_s3_server()
    yield server
    server.server.stop()


@pytest.fixture(scope="session")
def server_pool(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[ServerPool]:
    pool = ServerPool(tmp_path_factory.mktemp("servers"), lambda: request.getfixturevalue("s3_server"))
    yield pool
    pool.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(server_pool: ServerPool, backend: str) -> LiveServer:
    """A live server on ``backend`` with local artifacts (shared within the session)."""
    return server_pool.get(backend, "local")


@pytest.fixture(params=STORES)
def artifact_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_server(server_pool: ServerPool, backend: str, artifact_store: str) -> LiveServer:
    """A live server for every (backend, artifact store) combination."""
    return server_pool.get(backend, artifact_store)


@pytest.fixture
def mlflow_client(server: LiveServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The real ``mlflow`` client pointed at ``server`` (fluent API included)."""
    return _mlflow_client_for(server, monkeypatch)


@pytest.fixture
def store_mlflow_client(store_server: LiveServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return _mlflow_client_for(store_server, monkeypatch)


def _mlflow_client_for(server: LiveServer, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(server.url)
    with contextlib.suppress(Exception):
        mlflow.end_run()
    yield_client = MlflowClient(tracking_uri=server.url)
    return yield_client


def unique(prefix: str = "x") -> str:
    """A name no other test uses (tests share servers, so they isolate by name, not by wiping)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
