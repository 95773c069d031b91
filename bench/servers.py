"""Start runyard and MLflow servers on free loopback ports with fresh databases, and watch their memory."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import psycopg
import pymysql

REPO = Path(__file__).resolve().parent.parent
RUNYARD_BIN = REPO / ".venv" / "bin" / "runyard"
MLFLOW_BIN = REPO / "bench" / ".venv-mlflow" / "bin" / "mlflow"
POSTGRES_ADMIN = os.environ.get("BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
MARIADB_HOST, MARIADB_PORT = "127.0.0.1", 3306
START_TIMEOUT = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def fresh_database(kind: str, scratch: Path) -> Iterator[str]:
    """A new, empty database URL: a SQLite file in ``scratch`` or ``bench_<random>`` on local PostgreSQL or MariaDB."""
    if kind == "sqlite":
        yield f"sqlite:///{scratch / 'bench.db'}"
        return
    name = f"bench_{secrets.token_hex(6)}"
    if kind == "mariadb":
        with _mariadb_admin() as admin:
            admin.execute(f"CREATE DATABASE `{name}`")
        try:
            yield f"mysql://root@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
        finally:
            with _mariadb_admin() as admin:
                admin.execute(f"DROP DATABASE IF EXISTS `{name}`")
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database {kind}")
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _mariadb_admin() -> Iterator[pymysql.cursors.Cursor]:
    connection = pymysql.connect(host=MARIADB_HOST, port=MARIADB_PORT, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.close()


def refresh_statistics(database_url: str) -> None:
    """ANALYZE a PostgreSQL database after a bulk load, as autovacuum would shortly after.

    Freshly loaded tables without statistics make the planner pick nested loops that scale
    quadratically (MLflow's tag-filtered model search took minutes over 1,000 models); a server
    in steady state has statistics, so both servers are measured with them. No-op for SQLite.
    """
    if database_url.startswith("postgresql"):
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute("ANALYZE")


def _clean_environment() -> dict[str, str]:
    """The caller's environment without runyard/MLflow settings that would change either server."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants (MLflow runs several processes)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


class PeakSampler:
    """Samples the tree RSS in a background thread and keeps the maximum."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def start(self) -> PeakSampler:
        self._thread.start()
        return self

    def stop(self) -> float:
        """Stop sampling (idempotent); returns the peak in bytes."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, tree_rss(self.pid))
        return self.peak


@dataclass
class Server:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log: Path
    command: list[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Stop the server's whole process group (only processes this suite started)."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


def _launch(name: str, command: list[str], env: dict[str, str], scratch: Path, port: int) -> Server:
    log = scratch / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=scratch, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, f"http://127.0.0.1:{port}", process, log, command)
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client() as probe:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if probe.get(f"{server.base_url}/health", timeout=2).status_code == 200:
                    return server
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"{name} did not answer /health within {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}")


def start_runyard(database_url: str, scratch: Path) -> Server:
    """``runyard server`` with artifacts in ``scratch``; migrations applied first (PostgreSQL needs it)."""
    env = _clean_environment()
    data_dir = scratch / "runyard-data"
    subprocess.run(
        [str(RUNYARD_BIN), "db", "upgrade", "--data-dir", str(data_dir), "--backend-store-uri", database_url],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    command = [
        str(RUNYARD_BIN),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--backend-store-uri",
        database_url,
        "--no-local-pool",
    ]
    return _launch("runyard", command, env, scratch, port)


def start_mlflow(database_url: str, scratch: Path, workers: int) -> Server:
    """``mlflow server`` in its fastest configuration for this suite (see docs/benchmarks.md)."""
    env = _clean_environment()
    # The job runner adds seven processes and nothing the tracking workloads use.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    port = free_port()
    command = [
        str(MLFLOW_BIN),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        database_url,
        "--artifacts-destination",
        str(scratch / "mlflow-artifacts"),
        "--workers",
        str(workers),
    ]
    return _launch("mlflow", command, env, scratch, port)
