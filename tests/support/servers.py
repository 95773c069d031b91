"""Live ``runyard server`` processes for tests, driven over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.services import free_port


@dataclass
class LiveServer:
    """A running ``runyard server`` subprocess."""

    url: str
    backend: str
    database_url: str
    data_dir: Path
    artifacts: str
    env: dict[str, str]
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def start(self, timeout: float = 60.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runyard", "server", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_ready(self.url, self.process, self.log_path, timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self.process = None

    def kill_hard(self) -> None:
        """``kill -9`` the server (and anything it started)."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(15)
        self.process = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log_path.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready after {timeout}s:\n{log_path.read_text(errors='replace')}")


def make_server(
    *,
    backend: str,
    database_url: str,
    data_dir: Path,
    artifacts: str,
    s3_endpoint: str | None = None,
    extra_args: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> LiveServer:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}
    env["RUNYARD_LOCAL_POOL"] = "false"
    if s3_endpoint:
        env.update(
            {
                "AWS_ENDPOINT_URL": s3_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
        )
    env.update(extra_env or {})
    args = [
        "--host", "127.0.0.1",
        "--port", str(port),
        "--data-dir", str(data_dir),
        "--backend-store-uri", database_url,
        "--artifacts-destination", artifacts,
        *(extra_args or []),
    ]  # fmt: skip
    if not database_url.startswith("sqlite"):
        # Production databases are migrated explicitly, never on start.
        subprocess.run(
            [sys.executable, "-m", "runyard", "db", "upgrade", "--backend-store-uri", database_url],
            env=env,
            check=True,
            capture_output=True,
        )
    return LiveServer(
        url=f"http://127.0.0.1:{port}",
        backend=backend,
        database_url=database_url,
        data_dir=data_dir,
        artifacts=artifacts,
        env=env,
        args=args,
        log_path=data_dir / "server.log",
    )
