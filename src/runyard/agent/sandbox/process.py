"""The ``process`` level: a fresh working directory, an own session, rlimits, a scrubbed environment.

Available everywhere. It does not isolate the filesystem (the job sees what the user it runs as may
see) and cannot enforce no-network mode. When the agent runs as root the job runs as an
unprivileged user (``SandboxSettings.run_as_uid``), so it cannot read root-only files and
``RLIMIT_NPROC`` is enforced (the kernel does not apply it to root).
"""

from __future__ import annotations

from typing import ClassVar

from runyard.agent.sandbox.base import Sandbox, SandboxSpec


class ProcessSandbox(Sandbox):
    """Runs the job directly, in its own session and process group."""

    name: ClassVar[str] = "process"
    guarantees: ClassVar[tuple[str, ...]] = (
        "fresh working directory (cwd, HOME and TMPDIR inside it)",
        "own session and process group; the whole tree is killed on cancel, timeout and agent shutdown",
        "rlimits: address space (memory), CPU seconds, file size, processes (per user), no core files",
        "wall-clock timeout",
        "environment built from scratch: only the job's variables and scoped token",
        "runs as an unprivileged user when the agent is root",
    )
    enforces_network: ClassVar[bool] = False
    isolates_filesystem: ClassVar[bool] = False
    wraps_command: ClassVar[bool] = False

    @classmethod
    def available(cls) -> str | None:
        return None

    def command(self, spec: SandboxSpec) -> list[str]:
        return list(spec.argv)
