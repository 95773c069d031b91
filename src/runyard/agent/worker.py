"""The agent's loops: register, heartbeat, claim, and a graceful shutdown.

- The **claim loop** (a daemon thread) long-polls ``claim`` and starts an ``AttemptRunner`` per
  assignment; the server decides what fits the worker's free GPUs and slots.
- The **heartbeat loop** (a daemon thread) reports running attempts every ``heartbeat_seconds``,
  kills those the server lists in ``cancel``, re-registers on ``404`` and touches the heartbeat file.
- The main thread waits for SIGTERM/SIGINT, then kills every attempt's process tree, reports
  ``agent shutdown``, deregisters and returns.

Both loops back off with jitter while the server (or its database) is unreachable and carry on
when it is back; running jobs are not disturbed by an outage.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from runyard import __version__
from runyard.agent.attempt import AgentContext, AttemptRunner
from runyard.agent.backoff import Backoff
from runyard.agent.bundles import BundleCache
from runyard.agent.environments import EnvironmentCache, default_python
from runyard.agent.heartbeat_file import touch
from runyard.agent.sandbox import outcome
from runyard.client._agent import AgentAPI
from runyard.errors import NotFound, RunyardError, Unavailable
from runyard.settings import AgentSettings, SandboxSettings

log = logging.getLogger(__name__)
SHUTDOWN_JOIN_SECONDS = 20.0
# A claim that returns empty-handed sooner than this is followed by a pause, so a server that does
# not hold long polls can never turn the claim loop into a busy loop.
MIN_EMPTY_CLAIM_SECONDS = 0.25
# The protocol's limit on max_assignments.
MAX_CLAIM_SIZE = 64
# How long the claim loop waits for just-started attempts to report ``running`` before claiming again.
START_REPORT_WAIT_SECONDS = 2.0
PR_SET_DUMPABLE = 4


@dataclass(frozen=True)
class WorkerIdentity:
    """What the agent declares when it registers."""

    name: str
    pool: str
    hostname: str
    gpus: list[str]
    slots: int
    labels: dict[str, str]


def protect_own_environment() -> None:
    """Make the agent non-dumpable so a job running as the same user cannot read its ``/proc/<pid>/environ``."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError) as error:
        log.warning("cannot make the agent non-dumpable: %s", error)


class Agent:
    """One worker of one compute pool."""

    def __init__(
        self,
        settings: AgentSettings,
        sandbox: SandboxSettings,
        identity: WorkerIdentity,
        client: AgentAPI,
        run_as: tuple[int, int] | None = None,
    ) -> None:
        self.settings = settings
        self.identity = identity
        self.client = client
        self.stopping = threading.Event()
        work_root = settings.work_dir or Path("/tmp/runyard-agent") / identity.name
        self.context = AgentContext(
            client=client,
            tracking_uri=settings.server_url.rstrip("/"),
            work_root=work_root,
            bundles=BundleCache(work_root / "bundles", client),
            sandbox=sandbox,
            run_as=run_as,
            stopping=self.stopping,
            environments=EnvironmentCache(
                work_root / "envs",
                limit_mb=settings.env_cache_mb,
                timeout_seconds=settings.env_install_timeout_seconds,
                installer_name=settings.env_installer,
            ),
            env_python=settings.env_python or default_python(),
            env_system_site_packages=settings.env_system_site_packages,
        )
        self.worker_id: str | None = None
        self.heartbeat_seconds = settings.heartbeat_seconds
        self._runners: dict[tuple[str, int], AttemptRunner] = {}
        self._lock = threading.Lock()
        self._registered = threading.Condition(self._lock)

    # -- registration --------------------------------------------------------------------------

    def register(self) -> str:
        """Register (retrying with back-off until it works or the agent stops); returns the worker id."""
        backoff = Backoff()
        while True:
            try:
                answer = self.client.register_worker(
                    name=self.identity.name,
                    pool=self.identity.pool,
                    hostname=self.identity.hostname,
                    gpus=self.identity.gpus,
                    slots=self.identity.slots,
                    labels=self.identity.labels,
                    version=__version__,
                )
                break
            except Unavailable as error:
                log.warning("cannot register with %s yet: %s", self.client.base_url, error.message)
            except RunyardError as error:
                log.error("registration refused: %s", error.message)
            if backoff.wait(self.stopping):
                raise _Stopped
        with self._lock:
            self.worker_id = str(answer["worker_id"])
            self.heartbeat_seconds = float(answer.get("heartbeat_seconds") or self.settings.heartbeat_seconds)
            self._registered.notify_all()
        log.info(
            "registered as %s in pool %s (GPUs %s, slots %d)",
            self.worker_id,
            self.identity.pool,
            ",".join(self.identity.gpus) or "none",
            self.identity.slots,
        )
        return self.worker_id

    def _reregister(self, stale_id: str) -> None:
        """After a 404 (the worker was reaped): register again, once, whichever loop noticed first."""
        with self._lock:
            if self.worker_id != stale_id:
                return
            self.worker_id = None
        log.warning("the server no longer knows worker %s; registering again", stale_id)
        self.register()

    # -- loops ---------------------------------------------------------------------------------

    def running(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"job_id": job, "attempt": attempt} for job, attempt in self._runners]

    def _heartbeat_loop(self) -> None:
        backoff = Backoff(initial=1.0, maximum=self.settings.heartbeat_seconds)
        while not self.stopping.is_set():
            touch(self.settings.heartbeat_file)
            worker_id = self.worker_id
            delay = self.heartbeat_seconds
            if worker_id is not None:
                try:
                    answer = self.client.heartbeat(worker_id, self.running())
                    backoff.reset()
                    self._apply_cancels(answer.get("cancel") or [])
                except NotFound:
                    self._safely(self._reregister, worker_id)
                    continue
                except Unavailable as error:
                    log.warning("heartbeat failed: %s", error.message)
                    delay = min(delay, backoff.next_delay())
                except RunyardError as error:
                    log.error("heartbeat refused: %s", error.message)
            self.stopping.wait(delay)

    def _apply_cancels(self, cancels: list[dict[str, Any]]) -> None:
        for item in cancels:
            key = (str(item.get("job_id")), int(item.get("attempt") or 0))
            with self._lock:
                runner = self._runners.get(key)
            if runner is not None:
                reason = str(item.get("reason") or outcome.CANCELLED_BY_USER)
                log.info("cancelling %s/%s: %s", key[0], key[1], reason)
                runner.cancel(reason)

    def _claim_loop(self) -> None:
        backoff = Backoff()
        while not self.stopping.is_set():
            worker_id = self.worker_id
            if worker_id is None:
                self.stopping.wait(0.1)
                continue
            started = time.monotonic()
            try:
                assignments = self.client.claim_many(worker_id, self.settings.claim_wait_seconds, self._claim_size())
                backoff.reset()
            except NotFound:
                self._safely(self._reregister, worker_id)
                continue
            except Unavailable as error:
                log.warning("claim failed (retrying): %s", error.message)
                backoff.wait(self.stopping)
                continue
            except RunyardError as error:
                log.error("claim refused: %s", error.message)
                backoff.wait(self.stopping)
                continue
            if not assignments:
                if time.monotonic() - started < MIN_EMPTY_CLAIM_SECONDS:
                    self.stopping.wait(MIN_EMPTY_CLAIM_SECONDS)
                continue
            if self.stopping.is_set():
                # Deregistering hands them back to the server (lost → requeued).
                return
            runners = [self._start_attempt(assignment) for assignment in assignments]
            # Claim again only once they have reported ``running``: the next claim would otherwise
            # compete with those reports on the server, on every job's dispatch path.
            deadline = time.monotonic() + START_REPORT_WAIT_SECONDS
            for runner in runners:
                if runner is not None:
                    runner.started.wait(max(0.0, deadline - time.monotonic()))

    def _claim_size(self) -> int:
        """How many attempts to take in one claim: room for every GPU and slot not busy here.

        The server fits what it hands out to the free capacity it knows, so asking for more than
        fits is harmless; asking for several at once saves a round trip per job.
        """
        with self._lock:
            busy = len(self._runners)
        room = len(self.identity.gpus) + self.identity.slots - busy
        return max(1, min(MAX_CLAIM_SIZE, room))

    def _start_attempt(self, assignment: dict[str, Any]) -> AttemptRunner | None:
        runner = AttemptRunner(self.context, assignment, self._attempt_done)
        with self._lock:
            if runner.key in self._runners:
                log.warning("attempt %s/%s is already running here", *runner.key)
                return None
            self._runners[runner.key] = runner
        log.info("starting attempt %s/%s", *runner.key)
        runner.start()
        return runner

    def _attempt_done(self, runner: AttemptRunner) -> None:
        with self._lock:
            self._runners.pop(runner.key, None)

    def _safely(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except _Stopped:
            return

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self, install_signal_handlers: bool = True) -> None:
        """Serve until SIGTERM/SIGINT (or ``stop()``), then shut down gracefully."""
        if install_signal_handlers:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        touch(self.settings.heartbeat_file)
        threads = [
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            threading.Thread(target=self._claim_loop, name="claim", daemon=True),
        ]
        threads[0].start()
        try:
            self.register()
        except _Stopped:
            return
        threads[1].start()
        while not self.stopping.wait(1.0):
            pass
        self.shutdown()

    def stop(self) -> None:
        self.stopping.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        self.stopping.set()

    def shutdown(self) -> None:
        """Kill every running attempt (reported as ``agent shutdown``), then deregister."""
        self.stopping.set()
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.cancel(outcome.AGENT_SHUTDOWN)
        deadline = time.monotonic() + SHUTDOWN_JOIN_SECONDS
        for runner in runners:
            runner.join(max(0.0, deadline - time.monotonic()))
        worker_id = self.worker_id
        if worker_id is not None:
            try:
                self.client.deregister_worker(worker_id)
            except RunyardError as error:
                log.warning("deregistration failed (the lease will expire): %s", error.message)
        log.info("agent stopped")


class _Stopped(Exception):
    """The agent was asked to stop while it was still trying to register."""


def default_name(hostname: str | None = None) -> str:
    return f"{hostname or socket.gethostname()}-{os.getpid()}"
