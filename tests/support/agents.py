"""Real ``runyard agent`` processes for tests, and recipe folders to give them work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml


@dataclass
class AgentProcess:
    """A running ``runyard agent`` subprocess (own session, so its whole tree can be signalled)."""

    server_url: str
    pool: str
    work_dir: Path
    gpus: str = "none"
    slots: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    name: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.work_dir / f"{self.name}.log"

    @property
    def heartbeat_file(self) -> Path:
        return self.work_dir / f"{self.name}.heartbeat"

    def start(self) -> AgentProcess:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNYARD_", "MLFLOW_"))}
        env["RUNYARD_AGENT_HEARTBEAT_FILE"] = str(self.heartbeat_file)
        env["RUNYARD_AGENT_HEARTBEAT_SECONDS"] = "1"
        env.update(self.extra_env)
        argv = [
            sys.executable, "-m", "runyard", "agent",
            "--server", self.server_url,
            "--pool", self.pool,
            "--gpus", self.gpus,
            "--slots", str(self.slots),
            "--work-dir", str(self.work_dir / self.name),
            "--name", self.name,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_registered(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "registered as" in self.log_text():
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"agent exited with {self.process.returncode}:\n{self.log_text()}")
            time.sleep(0.05)
        raise AssertionError(f"agent did not register in {timeout}s:\n{self.log_text()}")

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM (graceful shutdown); returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def kill_hard(self) -> None:
        """``kill -9`` the agent process only (its jobs are left to the sandbox's own guarantees)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.terminate(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process = None


def make_recipe(root: Path, name: str, script: str, **manifest: object) -> Path:
    """A recipe folder: ``runyard.yaml`` + ``main.py`` holding ``script`` (dedented)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "main.py").write_text(textwrap.dedent(script))
    (folder / "runyard.yaml").write_text(yaml.safe_dump({"name": name, "entrypoint": "main.py", **manifest}))
    return folder


def marked_processes(marker: str) -> list[int]:
    """Host pids of live processes with ``TEST_MARKER=marker`` in their environment."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("TEST_MARKER") == marker and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process.pid)
        except psutil.Error:
            continue
    return found


def start_agent(agents: list[AgentProcess], server_url: str, pool: str, work_dir: Path, **fields: Any) -> AgentProcess:
    """Start an agent for ``pool``, remember it in ``agents`` (stopped by the fixture) and wait until it registered."""
    agent = AgentProcess(server_url=server_url, pool=pool, work_dir=work_dir, **fields)
    agents.append(agent.start())
    agent.wait_registered()
    return agent
