"""The ``namespace`` level: unprivileged user, mount, PID, IPC and UTS namespaces via util-linux ``unshare``.

On top of the ``process`` level: the job sees only its own directory, ``/tmp`` (a folder of its
own), read-only system paths and the Python installation (``_nsinit.py`` builds that root and
pivots into it); it sees and can signal only its own processes (PID namespace; when the job's init
dies the kernel kills everything left); ``RLIMIT_NPROC`` counts the job's processes alone (its own
user namespace); with ``network = false`` it gets a network namespace with loopback only.

When the agent is root and jobs run as another user, no user namespace is made: the init builds
the root as real root and switches to that user (no set-user-id gains) right before the job runs,
so the job is an ordinary unprivileged host user.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import ClassVar

from runyard.agent.sandbox import network
from runyard.agent.sandbox.base import Sandbox, SandboxSpec
from runyard.agent.sandbox.limits import Limits, rlimits_for
from runyard.agent.sandbox.paths import read_only_paths

NSINIT = Path(__file__).with_name("_nsinit.py")


class NamespaceSandbox(Sandbox):
    """Runs the job under ``unshare`` with a private root filesystem."""

    name: ClassVar[str] = "namespace"
    guarantees: ClassVar[tuple[str, ...]] = (
        "everything the process level guarantees",
        "filesystem: only the job directory is writable; system paths and the Python installation are "
        "visible read-only; nothing else of the host (no home directories, no agent files, no /var)",
        "own PID namespace: the job cannot see or signal other processes; its death kills all it started",
        "own user namespace: root inside has no privileges on the host; the process limit counts only the job",
        "no-network mode: a private network namespace with loopback only",
        "network mode (with pasta): a private network namespace with outbound access only; the host's "
        "loopback services are unreachable but for the tracking server's port",
    )
    enforces_network: ClassVar[bool] = True
    isolates_filesystem: ClassVar[bool] = True

    @classmethod
    def available(cls) -> str | None:
        if shutil.which("unshare") is None:
            return "util-linux unshare is not installed"
        return None

    def command(self, spec: SandboxSpec) -> list[str]:
        control = spec.control_dir
        new_root = control / "root"
        new_root.mkdir(parents=True, exist_ok=True)
        tmp = spec.root_dir / "tmp"
        tmp.mkdir(exist_ok=True)
        argv, rlimits, devices = list(spec.argv), rlimits_for(spec.limits), [str(device) for device in spec.devices]
        if network.wants_private_network(spec):
            # The helper applies the rlimits to the job alone (pasta must not inherit them).
            argv, rlimits, devices = network.wrap(spec), [], [*devices, network.TUN_DEVICE]
        init_spec = {
            "new_root": str(new_root),
            "ro_paths": read_only_paths(tuple(spec.extra_ro_paths)),
            "rw_path": str(spec.root_dir),
            "tmp_path": str(tmp),
            "devices": devices,
            "cwd": str(spec.work_dir),
            "argv": argv,
            "network": spec.network,
            "control_dir": str(control),
            "rlimits": [[which, soft, hard] for which, (soft, hard) in rlimits],
        }
        flags = ["--mount", "--pid", "--fork", "--kill-child", "--ipc", "--uts"]
        if self._switches_user(spec):
            # A root agent builds the root as real root (it can bind the interpreter even from under a
            # mode-700 /root) and the init drops to the job user just before it runs the job.
            init_spec["run_as"] = list(spec.run_as or ())
        else:
            flags = ["--user", "--map-root-user", *flags]
        spec_path = control / "nsinit.json"
        spec_path.write_text(json.dumps(init_spec))
        if not spec.network:
            flags.append("--net")
        return ["unshare", *flags, "--", sys.executable, "-I", "-S", str(NSINIT), str(spec_path)]

    @staticmethod
    def _switches_user(spec: SandboxSpec) -> bool:
        return spec.run_as is not None and os.geteuid() == 0

    def launcher_user(self, spec: SandboxSpec) -> tuple[int, int] | None:
        return None if self._switches_user(spec) else spec.run_as

    def launcher_limits(self, spec: SandboxSpec) -> Limits:
        # The namespace init applies the limits just before it runs the job: a small address-space
        # limit must not stop unshare and the init themselves from starting.
        return Limits()
