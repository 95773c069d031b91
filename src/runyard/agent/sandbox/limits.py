"""Resource limits of a sandboxed job and the ``preexec`` hook that applies them as rlimits.

rlimits are per process (``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE``) or per user
(``RLIMIT_NPROC``) and are inherited by every process the job starts; docs/sandbox.md says what each
one does and does not cover.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from dataclasses import dataclass

MB = 1024 * 1024
# Seconds of CPU between the soft limit (SIGXCPU, catchable) and the hard limit (SIGKILL).
CPU_GRACE_SECONDS = 2


@dataclass(frozen=True)
class Limits:
    """Per-job limits; ``None`` means unlimited (the agent's own limit still applies)."""

    memory_limit_mb: int | None = None
    cpu_seconds: int | None = None
    max_processes: int | None = None
    max_file_size_mb: int | None = None
    timeout_seconds: float | None = None


def rlimits_for(limits: Limits) -> list[tuple[int, tuple[int, int]]]:
    """The ``(resource, (soft, hard))`` pairs that enforce ``limits``."""
    pairs: list[tuple[int, tuple[int, int]]] = []
    if limits.memory_limit_mb is not None:
        size = limits.memory_limit_mb * MB
        pairs.append((resource.RLIMIT_AS, (size, size)))
    if limits.cpu_seconds is not None:
        pairs.append((resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + CPU_GRACE_SECONDS)))
    if limits.max_file_size_mb is not None:
        size = limits.max_file_size_mb * MB
        pairs.append((resource.RLIMIT_FSIZE, (size, size)))
    if limits.max_processes is not None:
        pairs.append((resource.RLIMIT_NPROC, (limits.max_processes, limits.max_processes)))
    # A crashing job must not fill the disk with a core file.
    pairs.append((resource.RLIMIT_CORE, (0, 0)))
    return pairs


def preexec_for(limits: Limits) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: runs in the child after fork, before exec.

    It only calls ``setrlimit`` (no locks, no imports), which keeps it safe in the agent's threaded
    process; lowering a limit never needs privileges.
    """
    pairs = rlimits_for(limits)

    def apply() -> None:
        for which, values in pairs:
            soft, hard = values
            current_hard = resource.getrlimit(which)[1]
            if current_hard != resource.RLIM_INFINITY:
                # Never ask for more than the agent itself may have.
                hard = min(hard, current_hard)
                soft = min(soft, hard)
            resource.setrlimit(which, (soft, hard))

    return apply
