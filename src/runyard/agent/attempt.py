"""One assignment, start to finish: directory, bundle, sandbox, logs, outputs, status reports.

Layout of an attempt under the agent's work directory::

    attempts/<job>-<attempt>/        the sandbox root (the only host directory the job may write)
        work/                        cwd, HOME; a fresh copy of the recipe bundle
        output/                      RUNYARD_OUTPUT_DIR: uploaded as run artifacts at the end
        tmp/                         TMPDIR (and /tmp under filesystem isolation)
        .runyard/                    the python runner and its markers

The directory is removed when the attempt is over.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runyard.agent.artifacts import upload_outputs
from runyard.agent.backoff import Backoff
from runyard.agent.bundles import BundleCache, BundleError
from runyard.agent.entrypoint import entrypoint_argv
from runyard.agent.environment import job_environment
from runyard.agent.logs import LogShipper, start_pumps
from runyard.agent.sandbox import Limits, Outcome, SandboxedProcess, SandboxError, SandboxSpec, choose, stronger
from runyard.agent.sandbox.outcome import AGENT_SHUTDOWN
from runyard.client._agent import AgentAPI
from runyard.errors import Conflict, NotFound, RunyardError, Unavailable
from runyard.settings import SandboxSettings

log = logging.getLogger(__name__)
FINAL_REPORT_PATIENCE_SECONDS = 600.0
SHUTDOWN_REPORT_PATIENCE_SECONDS = 10.0


@dataclass
class AgentContext:
    """What every attempt of one agent shares."""

    client: AgentAPI
    tracking_uri: str
    work_root: Path
    bundles: BundleCache
    sandbox: SandboxSettings
    run_as: tuple[int, int] | None
    stopping: threading.Event


def _tighter(first: Any, second: Any) -> Any:
    """The smaller of two optional limits (``None`` = no limit)."""
    values = [value for value in (first, second) if value is not None]
    return min(values) if values else None


def effective_limits(assignment: dict[str, Any], settings: SandboxSettings) -> Limits:
    """The job's limits, never looser than the agent's configured ones."""
    requested = assignment.get("sandbox") or {}
    resources = assignment.get("resources") or {}
    memory = _tighter(requested.get("memory_limit_mb") or resources.get("memory_mb"), settings.memory_limit_mb)
    if assignment.get("gpus"):
        # CUDA reserves far more address space than it uses: RLIMIT_AS would break every GPU job.
        # GPU jobs rely on the pod's (cgroup) memory limit instead.
        memory = None
    return Limits(
        memory_limit_mb=memory,
        cpu_seconds=_tighter(requested.get("cpu_seconds"), settings.cpu_seconds),
        max_processes=_tighter(requested.get("max_processes"), settings.max_processes),
        max_file_size_mb=_tighter(requested.get("max_file_size_mb"), settings.max_file_size_mb),
        timeout_seconds=_tighter(resources.get("timeout_seconds"), settings.timeout_seconds),
    )


class AttemptRunner(threading.Thread):
    """Runs one attempt in a thread; ``cancel`` kills it from any thread."""

    def __init__(
        self, context: AgentContext, assignment: dict[str, Any], on_done: Callable[[AttemptRunner], None]
    ) -> None:
        self.job_id = str(assignment["job_id"])
        self.attempt = int(assignment["attempt"])
        super().__init__(name=f"attempt-{self.job_id}-{self.attempt}", daemon=True)
        self.context = context
        self.assignment = assignment
        self._on_done = on_done
        self._process: SandboxedProcess | None = None
        # Set once the attempt has reported ``running`` (or ended without getting that far).
        self.started = threading.Event()
        self._cancel_reason: str | None = None
        self._lock = threading.Lock()
        self.root = context.work_root / "attempts" / f"{self.job_id}-{self.attempt}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.job_id, self.attempt)

    def cancel(self, reason: str) -> None:
        """Kill the attempt's whole process tree (or stop it before it starts)."""
        with self._lock:
            if self._cancel_reason is None:
                self._cancel_reason = reason
            process = self._process
        if process is not None:
            process.kill(reason)

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("attempt %s/%s crashed in the agent", self.job_id, self.attempt)
            self._report_final(Outcome("failed", None, "sandbox error: agent failure (see the agent log)"))
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.started.set()
            self._on_done(self)

    def _run(self) -> None:
        client = self.context.client
        shipper = LogShipper(client, self.job_id, self.attempt)
        try:
            process = self._start(shipper)
        except (SandboxError, BundleError, RunyardError, OSError) as error:
            message = getattr(error, "message", None) or str(error)
            shipper.note(f"cannot start the job: {message}")
            shipper.close()
            self._report_final(Outcome("failed", None, f"sandbox error: {message}"))
            return
        if process is None:
            shipper.close()
            self._report_final(Outcome("cancelled", None, self._cancel_reason))
            return
        pumps = start_pumps({"stdout": process.stdout, "stderr": process.stderr}, shipper)
        if not self._report_running():
            process.kill("attempt no longer current")
        self.started.set()
        outcome = process.wait()
        for pump in pumps:
            pump.join(10)
        if outcome.reason != AGENT_SHUTDOWN:
            self._upload_outputs(shipper)
        shipper.close(timeout=5 if self.context.stopping.is_set() else 30)
        if outcome.reason != "attempt no longer current":
            self._report_final(outcome)

    def _start(self, shipper: LogShipper) -> SandboxedProcess | None:
        assignment = self.assignment
        settings = self.context.sandbox
        requested = assignment.get("sandbox") or {}
        network = bool(requested.get("network", True)) and settings.network
        sandbox = choose(
            stronger(str(requested.get("isolation") or "auto"), settings.isolation),
            self.context.run_as,
            need_network_isolation=not network,
        )
        work, output, tmp = self.root / "work", self.root / "output", self.root / "tmp"
        shutil.rmtree(self.root, ignore_errors=True)
        for directory in (work, output, tmp):
            directory.mkdir(parents=True)
        recipe = assignment["recipe"]
        shutil.copytree(self.context.bundles.get(recipe), work, dirs_exist_ok=True)
        parameters = assignment.get("parameters") or {}
        gpus = [str(gpu) for gpu in assignment.get("gpus") or []]
        spec = SandboxSpec(
            argv=entrypoint_argv(recipe["entrypoint"], parameters, self.root / ".runyard"),
            env=job_environment(
                tracking_uri=self.context.tracking_uri,
                run_id=str(assignment.get("run_id") or ""),
                experiment_id=str(assignment.get("experiment_id") or ""),
                token=assignment.get("token"),
                job_id=self.job_id,
                attempt=self.attempt,
                parameters=parameters,
                gpus=gpus,
                work_dir=work,
                output_dir=output,
                tmp_dir=tmp,
                declared=assignment.get("env"),
            ),
            root_dir=self.root,
            work_dir=work,
            limits=effective_limits(assignment, settings),
            network=network,
            run_as=self.context.run_as,
            devices=_gpu_devices(gpus),
        )
        shipper.note(f"running {recipe.get('name')} v{recipe.get('version')} in the {sandbox.name} sandbox")
        with self._lock:
            if self._cancel_reason is not None:
                return None
            self._process = sandbox.start(spec)
            return self._process

    def _report_running(self) -> bool:
        """``False`` if the server says the attempt is no longer current."""
        backoff = Backoff()
        while True:
            try:
                self.context.client.report_status(self.job_id, self.attempt, "running")
                return True
            except (Conflict, NotFound):
                return False
            except Unavailable as error:
                # Keep running the job: the final report will tell the server how it went.
                log.info("cannot report %s/%s running yet: %s", self.job_id, self.attempt, error.message)
                if self._process is not None and self._process.popen.poll() is not None:
                    return True
                if backoff.failures >= 3 or backoff.wait(self.context.stopping):
                    return True
            except RunyardError as error:
                log.warning("running report of %s/%s refused: %s", self.job_id, self.attempt, error.message)
                return True

    def _upload_outputs(self, shipper: LogShipper) -> None:
        assignment = self.assignment
        if not assignment.get("run_id"):
            return
        problems = upload_outputs(
            self.context.client,
            experiment_id=str(assignment.get("experiment_id") or "0"),
            run_id=str(assignment["run_id"]),
            output_dir=self.root / "output",
            token=assignment.get("token"),
            stop=self.context.stopping,
            workspace=(assignment.get("recipe") or {}).get("workspace"),
        )
        for problem in problems:
            shipper.note(f"output file not uploaded: {problem}")

    def _report_final(self, outcome: Outcome) -> None:
        """Deliver the final status, riding out a server outage (bounded; shorter during shutdown)."""
        patience = SHUTDOWN_REPORT_PATIENCE_SECONDS if self.context.stopping.is_set() else FINAL_REPORT_PATIENCE_SECONDS
        deadline = time.monotonic() + patience
        backoff = Backoff()
        while True:
            try:
                self.context.client.report_status(
                    self.job_id, self.attempt, outcome.state, exit_code=outcome.exit_code, reason=outcome.reason
                )
                log.info("attempt %s/%s %s (%s)", self.job_id, self.attempt, outcome.state, outcome.reason or "ok")
                return
            except (Conflict, NotFound) as error:
                log.info("final report of %s/%s not taken: %s", self.job_id, self.attempt, error.message)
                return
            except Unavailable as error:
                if time.monotonic() >= deadline:
                    log.error("giving up reporting %s/%s: %s", self.job_id, self.attempt, error.message)
                    return
                time.sleep(min(backoff.next_delay(), max(0.0, deadline - time.monotonic())))
            except RunyardError as error:
                log.error("final report of %s/%s refused: %s", self.job_id, self.attempt, error.message)
                return


def _gpu_devices(gpus: list[str]) -> list[Path]:
    """Device nodes a filesystem-isolated GPU job needs (the assigned GPUs and the control nodes)."""
    if not gpus:
        return []
    names = ["nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"]
    names += [f"nvidia{gpu}" for gpu in gpus if gpu.isdigit()]
    return [Path("/dev") / name for name in names]
