"""Why a sandboxed job ended: a state, an exit code and one of the protocol's failure reasons.

The order of evidence: a kill the agent itself ordered (cancel, timeout, shutdown, inactivity) wins;
then a marker left by the python runner (``MemoryError`` → ``memory limit``, ``EFBIG`` → ``file size
limit``); then the signal that ended the process (``SIGXCPU`` → ``cpu time limit``, ``SIGXFSZ`` →
``file size limit``, ``SIGKILL`` not sent by the agent → the kernel's OOM killer → ``memory limit`` (a job that ignores
``SIGXCPU`` and reaches the hard CPU limit is also SIGKILLed, and is reported the same way),
``SIGSEGV``/``SIGBUS``/``SIGABRT`` under a memory limit → a failed allocation → ``memory limit``);
otherwise ``exit code N``.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from runyard.agent.sandbox.limits import Limits

MEMORY_MARKER = "memory-error"
FILE_SIZE_MARKER = "file-size-error"
SANDBOX_ERROR_MARKER = "sandbox-error"

MEMORY_LIMIT = "memory limit"
CPU_TIME_LIMIT = "cpu time limit"
FILE_SIZE_LIMIT = "file size limit"
TIMEOUT = "timeout"
CANCELLED_BY_USER = "cancelled by user"
AGENT_SHUTDOWN = "agent shutdown"
INACTIVITY = "inactivity"

_CANCELLED_REASONS = (CANCELLED_BY_USER,)
_MEMORY_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT}


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, in the protocol's terms (``state``, ``exit_code``, ``reason``)."""

    state: str
    exit_code: int | None
    reason: str | None = None

    def report(self) -> dict[str, object]:
        """The body of the final status report."""
        body: dict[str, object] = {"state": self.state}
        if self.exit_code is not None:
            body["exit_code"] = self.exit_code
        if self.reason is not None:
            body["reason"] = self.reason
        return body


def exit_code_of(returncode: int) -> int:
    """Shell convention: a process killed by signal N exits ``128 + N``."""
    return 128 - returncode if returncode < 0 else returncode


def signal_of(returncode: int, wrapped: bool) -> int | None:
    """The signal that ended the job, if any.

    Wrapping launchers (``unshare`` init, ``bwrap``) exit ``128 + N`` when their child dies of signal
    N, so for them such exit codes are read as signals.
    """
    if returncode < 0:
        return -returncode
    if wrapped and 128 < returncode < 128 + 65:
        return returncode - 128
    return None


def classify(
    returncode: int, *, killed_for: str | None, limits: Limits, control_dir: Path, wrapped: bool = False
) -> Outcome:
    """Turn a return code plus what the agent knows into an ``Outcome``."""
    code = exit_code_of(returncode)
    if killed_for is not None:
        state = "cancelled" if killed_for in _CANCELLED_REASONS else "failed"
        return Outcome(state, code, killed_for)
    if returncode == 0:
        return Outcome("succeeded", 0)
    sandbox_error = control_dir / SANDBOX_ERROR_MARKER
    if sandbox_error.exists():
        return Outcome("failed", code, f"sandbox error: {sandbox_error.read_text(errors='replace').strip()[:500]}")
    if (control_dir / MEMORY_MARKER).exists():
        return Outcome("failed", code, MEMORY_LIMIT)
    if (control_dir / FILE_SIZE_MARKER).exists():
        return Outcome("failed", code, FILE_SIZE_LIMIT)
    signum = signal_of(returncode, wrapped)
    if signum is not None:
        if signum == signal.SIGXCPU:
            return Outcome("failed", code, CPU_TIME_LIMIT)
        if signum == signal.SIGXFSZ:
            return Outcome("failed", code, FILE_SIZE_LIMIT)
        if signum == signal.SIGKILL:
            return Outcome("failed", code, MEMORY_LIMIT)
        if signum in _MEMORY_SIGNALS and limits.memory_limit_mb is not None:
            return Outcome("failed", code, MEMORY_LIMIT)
    return Outcome("failed", code, f"exit code {code}")
