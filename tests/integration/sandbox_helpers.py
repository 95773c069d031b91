"""Running one job in a sandbox level for the sandbox tests, the way the agent does."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from runyard.agent.entrypoint import entrypoint_argv
from runyard.agent.environment import job_environment
from runyard.agent.sandbox import LEVELS, Limits, Outcome, SandboxedProcess, SandboxSpec


@dataclass
class Job:
    """A started sandboxed job with its output collected in the background."""

    process: SandboxedProcess
    root: Path
    _stdout: list[bytes]
    _stderr: list[bytes]
    _readers: list[threading.Thread]

    def finish(self) -> tuple[Outcome, str, str]:
        outcome = self.process.wait()
        for reader in self._readers:
            reader.join(10)
        return outcome, b"".join(self._stdout).decode(errors="replace"), b"".join(self._stderr).decode(errors="replace")


def _collect(pipe, sink: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    with pipe:
        for chunk in iter(lambda: pipe.read(65536), b""):
            sink.append(chunk)


def start_job(
    level: str,
    tmp_path: Path,
    *,
    argv: Sequence[str] | None = None,
    script: str | None = None,
    limits: Limits | None = None,
    network: bool = True,
    run_as: tuple[int, int] | None = None,
    declared: Mapping[str, str] | None = None,
    loopback_ports: Sequence[int] = (),
) -> Job:
    """Start ``argv`` or a python ``script`` (through the runner, as a recipe's entrypoint) under ``level``."""
    root = tmp_path / f"attempt-{uuid.uuid4().hex[:8]}"
    work, output, tmp = root / "work", root / "output", root / "tmp"
    for directory in (work, output, tmp):
        directory.mkdir(parents=True)
    if script is not None:
        (work / "job.py").write_text(script)
        argv = entrypoint_argv({"kind": "python", "target": "job.py"}, {}, root / ".runyard")
    assert argv is not None
    env = job_environment(
        tracking_uri="http://127.0.0.1:9",
        run_id="run",
        experiment_id="0",
        token="job-scoped-token",
        job_id="j-test",
        attempt=1,
        parameters={},
        gpus=[],
        work_dir=work,
        output_dir=output,
        tmp_dir=tmp,
        declared=declared,
    )
    spec = SandboxSpec(
        argv=list(argv),
        env=env,
        root_dir=root,
        work_dir=work,
        limits=limits or Limits(timeout_seconds=120),
        network=network,
        run_as=run_as,
        loopback_ports=loopback_ports,
    )
    process = LEVELS[level]().start(spec)
    stdout: list[bytes] = []
    stderr: list[bytes] = []
    readers = [
        threading.Thread(target=_collect, args=(process.stdout, stdout), daemon=True),
        threading.Thread(target=_collect, args=(process.stderr, stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    return Job(process, root, stdout, stderr, readers)


def run_job(level: str, tmp_path: Path, **kwargs) -> tuple[Outcome, str, str]:  # type: ignore[no-untyped-def]
    return start_job(level, tmp_path, **kwargs).finish()


PYTHON = sys.executable
