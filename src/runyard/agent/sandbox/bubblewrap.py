"""The ``bubblewrap`` level: the same isolation as ``namespace``, built by ``bwrap`` (Debian: bubblewrap).

bwrap builds the root filesystem from its own arguments, drops every capability inside the
sandbox (the job is an ordinary user there, unlike the ``namespace`` level's root-in-namespace),
runs its own init as PID 1, kills the sandbox when the agent dies (``--die-with-parent``) and
brings up loopback in a private network namespace.
"""

from __future__ import annotations

import os
import shutil
from typing import ClassVar

from runyard.agent.sandbox.base import Sandbox, SandboxSpec
from runyard.agent.sandbox.paths import read_only_paths


class BubblewrapSandbox(Sandbox):
    """Runs the job under ``bwrap``."""

    name: ClassVar[str] = "bubblewrap"
    guarantees: ClassVar[tuple[str, ...]] = (
        "everything the namespace level guarantees",
        "no capabilities inside the sandbox (the job is not root there)",
        "the sandbox dies with the agent even if the agent is SIGKILLed",
    )
    enforces_network: ClassVar[bool] = True
    isolates_filesystem: ClassVar[bool] = True

    @classmethod
    def available(cls) -> str | None:
        if shutil.which("bwrap") is None:
            return "bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        return None

    def command(self, spec: SandboxSpec) -> list[str]:
        tmp = spec.root_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        argv = [
            "bwrap",
            "--unshare-user",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--cap-drop",
            "ALL",
        ]
        if not spec.network:
            argv.append("--unshare-net")
        # The private /tmp comes first: read-only paths (a virtualenv in /tmp/…) and the job directory
        # may themselves live under /tmp and must be mounted over it, not hidden by it.
        argv += ["--bind", str(tmp), "/tmp"]
        for path in read_only_paths(tuple(spec.extra_ro_paths)):
            if os.path.islink(path) and os.path.dirname(path) == "/":
                argv += ["--symlink", os.readlink(path), path]
            else:
                argv += ["--ro-bind", path, path]
        argv += ["--proc", "/proc", "--dev", "/dev"]
        for device in spec.devices:
            argv += ["--dev-bind-try", str(device), str(device)]
        argv += ["--bind", str(spec.root_dir), str(spec.root_dir)]
        argv += ["--chdir", str(spec.work_dir), "--", *spec.argv]
        return argv
