"""The ``bubblewrap`` level: the same isolation as ``namespace``, built by ``bwrap`` (Debian: bubblewrap).

bwrap builds the root filesystem from its own arguments, drops every capability inside the
sandbox (the job is an ordinary user there, unlike the ``namespace`` level's root-in-namespace),
runs its own init as PID 1, kills the sandbox when the agent dies (``--die-with-parent``) and
brings up loopback in a private network namespace.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from typing import ClassVar

from runyard.agent.sandbox import network
from runyard.agent.sandbox.base import Sandbox, SandboxedProcess, SandboxError, SandboxSpec
from runyard.agent.sandbox.paths import read_only_paths


class BubblewrapSandbox(Sandbox):
    """Runs the job under ``bwrap``."""

    name: ClassVar[str] = "bubblewrap"
    guarantees: ClassVar[tuple[str, ...]] = (
        "everything the namespace level guarantees",
        "no capabilities inside the sandbox (the job is not root there)",
        "the sandbox dies with the agent even if the agent is SIGKILLed",
        "network mode (with pasta): the same private network as the namespace level, pasta beside the sandbox",
    )
    enforces_network: ClassVar[bool] = True
    isolates_filesystem: ClassVar[bool] = True
    _fds: tuple[int, int] | None = None

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
        if self._fds is not None and network.wants_private_network(spec):
            info, block = self._fds
            argv += ["--unshare-net", "--dev-bind", network.TUN_DEVICE, network.TUN_DEVICE]
            argv += ["--info-fd", str(info), "--block-fd", str(block)]
        argv += ["--chdir", str(spec.work_dir), "--", *spec.argv]
        return argv

    def start(self, spec: SandboxSpec, pass_fds: Sequence[int] = ()) -> SandboxedProcess:
        """With a private network: bwrap reports its init, pasta attaches to it, then the job may start.

        pasta runs beside the sandbox (a job inside a bwrap chroot cannot make namespaces of its own)
        and is stopped when the job's tree is gone.
        """
        if not network.wants_private_network(spec):
            return super().start(spec, pass_fds)
        info_read, info_write = os.pipe()
        block_read, block_write = os.pipe()
        self._fds = (info_write, block_read)
        try:
            process = super().start(spec, (*pass_fds, info_write, block_read))
        except BaseException:
            for fd in (info_read, block_write):
                os.close(fd)
            raise
        finally:
            os.close(info_write)
            os.close(block_read)
            self._fds = None
        try:
            child = network.read_child_pid(info_read)
            user = self.launcher_user(spec) or (os.getuid(), os.getgid())
            pasta = network.attach(child, user, spec)
        except (SandboxError, OSError) as error:
            os.close(block_write)
            process.kill("sandbox error")
            process.wait()
            raise SandboxError(str(error)) from error

        def stop_pasta() -> None:
            pasta.kill()
            pasta.wait()

        process.cleanups.append(stop_pasta)
        os.write(block_write, b"1")
        os.close(block_write)
        return process
