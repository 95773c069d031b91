"""The sandbox interface: what a job asks for (``SandboxSpec``), how it ran (``Outcome``), and ``Sandbox``.

A backend turns a spec into a running process tree (``SandboxedProcess``); everything common to the
backends — pipes, the wall-clock clock, killing the tree, telling why the process ended — lives in
``SandboxedProcess`` so each backend only decides how the process is launched.
"""

from __future__ import annotations

import abc
import ctypes
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, ClassVar

from runyard.agent.sandbox import tree
from runyard.agent.sandbox.limits import Limits, preexec_for
from runyard.agent.sandbox.outcome import Outcome, classify
from runyard.agent.sandbox.users import unreachable_for

SANDBOX_ID_VARIABLE = "RUNYARD_SANDBOX_ID"
CONTROL_DIR_NAME = ".runyard"


class SandboxError(Exception):
    """The sandbox itself could not start the job (reported as ``sandbox error: …``)."""


@dataclass(frozen=True)
class SandboxSpec:
    """One process to run: its argv, environment (complete — nothing else is inherited) and directories.

    ``root_dir`` holds everything the job may touch: ``work_dir`` (its cwd, HOME, TMPDIR, a copy of
    the recipe bundle) and ``output_dir``. Filesystem-isolating backends make ``root_dir`` the only
    writable, host-visible directory.
    """

    argv: Sequence[str]
    env: Mapping[str, str]
    root_dir: Path
    work_dir: Path
    limits: Limits = field(default_factory=Limits)
    network: bool = True
    run_as: tuple[int, int] | None = None
    # Read-only host directories the job sees at the filesystem-isolating levels (e.g. a recipe's
    # virtualenv prepared by the agent); they must be readable by the user the job runs as.
    extra_ro_paths: Sequence[Path] = ()
    devices: Sequence[Path] = ()
    # Host loopback TCP ports a networked job in a private network may still reach (the tracking
    # server's, when it listens on 127.0.0.1); every other host loopback service stays unreachable.
    loopback_ports: Sequence[int] = ()

    @property
    def control_dir(self) -> Path:
        """Where the python runner leaves markers (e.g. that the job died of ``MemoryError``)."""
        return self.root_dir / CONTROL_DIR_NAME


class SandboxedProcess:
    """A running sandboxed job: read its output, wait for it, kill its whole tree."""

    def __init__(self, popen: subprocess.Popen[bytes], spec: SandboxSpec, sandbox_id: str, wrapped: bool) -> None:
        self.popen = popen
        self.spec = spec
        self.sandbox_id = sandbox_id
        self._wrapped = wrapped
        self._kill_reason: str | None = None
        self._lock = threading.Lock()
        self._deadline = (
            time.monotonic() + spec.limits.timeout_seconds if spec.limits.timeout_seconds is not None else None
        )
        # Run once the job's tree is gone (e.g. stopping the job's pasta).
        self.cleanups: list[Callable[[], None]] = []

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> IO[bytes]:
        assert self.popen.stdout is not None
        return self.popen.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self.popen.stderr is not None
        return self.popen.stderr

    def kill(self, reason: str) -> None:
        """Kill the whole process tree; the first reason given is the one reported."""
        with self._lock:
            if self._kill_reason is None:
                self._kill_reason = reason
        tree.kill_tree(self.popen.pid, self.sandbox_id)

    def wait(self, poll: Callable[[], None] | None = None, interval: float = 0.1) -> Outcome:
        """Wait for the job, enforcing the wall-clock timeout; ``poll`` runs every ``interval`` seconds."""
        while True:
            try:
                self.popen.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                if self._deadline is not None and time.monotonic() >= self._deadline:
                    self.kill("timeout")
                if poll is not None:
                    poll()
        # The direct child is gone; sweep anything it left behind (a daemonised grandchild).
        tree.kill_tree(self.popen.pid, self.sandbox_id)
        while self.cleanups:
            self.cleanups.pop()()
        return classify(
            self.popen.returncode,
            killed_for=self._kill_reason,
            limits=self.spec.limits,
            control_dir=self.spec.control_dir,
            wrapped=self._wrapped,
        )


PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def _preexec(limits: Limits) -> Callable[[], None]:
    """Child-side setup: die with the agent (even on ``kill -9``), then apply the rlimits.

    The parent-death signal fires when the agent thread that started the job exits, which is the
    attempt's own thread: it lives exactly as long as the job.
    """
    apply_limits = preexec_for(limits)
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # No set-user-id binary (su, mount, passwd) may give the job back the privileges it was denied.
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        apply_limits()

    return setup


def _give_to(root: Path, uid: int, gid: int) -> None:
    """Hand the job directory to the unprivileged user the job runs as."""
    for directory, _dirs, files in os.walk(root):
        os.chown(directory, uid, gid)
        for name in files:
            os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)


class Sandbox(abc.ABC):
    """An isolation level. ``start`` launches a spec; ``guarantees`` is what the level enforces."""

    name: ClassVar[str]
    guarantees: ClassVar[tuple[str, ...]]
    enforces_network: ClassVar[bool]
    isolates_filesystem: ClassVar[bool]

    @classmethod
    @abc.abstractmethod
    def available(cls) -> str | None:
        """``None`` if the level works on this machine, else why it does not."""

    @abc.abstractmethod
    def command(self, spec: SandboxSpec) -> list[str]:
        """The argv that runs ``spec.argv`` under this level."""

    wraps_command: ClassVar[bool] = True

    def launcher_user(self, spec: SandboxSpec) -> tuple[int, int] | None:
        """The user the launched process starts as (a backend may switch to ``spec.run_as`` itself, inside)."""
        return spec.run_as

    def launcher_limits(self, spec: SandboxSpec) -> Limits:
        """The rlimits set on the launched process itself (a backend may apply them later, inside)."""
        return spec.limits

    def start(self, spec: SandboxSpec, pass_fds: Sequence[int] = ()) -> SandboxedProcess:
        """Launch the job in its own session, with its rlimits, as ``spec.run_as`` if given."""
        sandbox_id = uuid.uuid4().hex
        env = {**spec.env, SANDBOX_ID_VARIABLE: sandbox_id}
        spec.control_dir.mkdir(parents=True, exist_ok=True)
        launcher = self.launcher_user(spec)
        user, group = launcher if launcher is not None else (None, None)
        if spec.run_as is not None:
            _give_to(spec.root_dir, *spec.run_as)
            # A launcher that mounts the folder as the job user must reach it by path (the process
            # level is started in it as root, before the switch, and needs no path).
            if launcher is not None and self.isolates_filesystem:
                blocked = unreachable_for(spec.root_dir, *spec.run_as)
                if blocked is not None:
                    raise SandboxError(
                        f"the job's folder {spec.root_dir} is not reachable by uid {spec.run_as[0]}, which jobs run "
                        f"as: {blocked}; give the agent a --work-dir that user can reach"
                    )
        try:
            popen = subprocess.Popen(
                self.command(spec),
                cwd=spec.work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=tuple(pass_fds),
                preexec_fn=_preexec(self.launcher_limits(spec)),
                user=user,
                group=group,
                extra_groups=[] if launcher is not None else None,
            )
        except OSError as error:
            raise SandboxError(f"cannot start {spec.argv[0]!r}: {error.strerror or error}") from error
        return SandboxedProcess(popen, spec, sandbox_id, wrapped=self.wraps_command)
