"""The agent's cache of job environments, shared by jobs (and by agents sharing a work dir).

Layout under ``<work dir>/envs/`` (directories 0755, files world-readable: jobs may run as another user)::

    <digest>/                   a virtualenv; complete once it holds the marker
    <digest>/.runyard-env.json  the marker: what was installed, how, its size; its mtime is the last use
    .locks/<digest>.lock        a ``flock`` per environment

A job holds its environment's lock *shared* for as long as it runs; building, and evicting, take it
*exclusive*. So two jobs needing the same environment build it once (the second waits for the first
and reuses it), and eviction — least recently used first, once the cache is over its size limit —
skips every environment a running job holds, in this agent or another.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runyard.agent.environments import installer
from runyard.agent.environments.spec import EnvironmentCancelled, EnvironmentFailed, EnvironmentSpec

log = logging.getLogger(__name__)
MARKER = ".runyard-env.json"
POLL_SECONDS = 0.2
MB = 1024 * 1024


@dataclass
class Environment:
    """A ready environment a job uses; ``release`` when the job is over."""

    digest: str
    path: Path
    built: bool
    seconds: float
    interpreter_prefixes: tuple[str, ...]
    _lock_fd: int | None

    @property
    def bin_dir(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin_dir / "python"

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


class EnvironmentCache:
    """Builds environments on first use and hands out shared, locked references to them."""

    def __init__(self, root: Path, *, limit_mb: int, timeout_seconds: float, installer_name: str = "auto") -> None:
        self.root = root
        self.limit_bytes = limit_mb * MB
        self.timeout_seconds = timeout_seconds
        self.installer_name = installer_name

    def acquire(
        self, spec: EnvironmentSpec, *, output: Callable[[str], None], should_stop: Callable[[], bool]
    ) -> Environment:
        """The ready environment of ``spec``, built now if nobody has; held until ``release``.

        Raises:
            EnvironmentFailed: it cannot be built, or waiting for it took too long.
            EnvironmentCancelled: ``should_stop`` turned true meanwhile.
        """
        started = time.monotonic()
        deadline = started + self.timeout_seconds
        digest = spec.digest
        for directory in (self.root, self.root / ".locks"):
            directory.mkdir(parents=True, exist_ok=True)
            os.chmod(directory, 0o755)
        fd = os.open(self.root / ".locks" / f"{digest}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            built = self._hold(fd, spec, output, should_stop, deadline)
        except BaseException:
            os.close(fd)
            raise
        environment = Environment(
            digest, self.root / digest, built, time.monotonic() - started, spec.interpreter.prefixes, fd
        )
        os.utime(environment.path / MARKER)
        self._evict(keep=digest)
        return environment

    def _hold(
        self,
        fd: int,
        spec: EnvironmentSpec,
        output: Callable[[str], None],
        should_stop: Callable[[], bool],
        deadline: float,
    ) -> bool:
        """Return holding ``fd`` shared on a ready environment; ``True`` if this call built it."""
        target = self.root / spec.digest
        told = False
        while True:
            if _try_lock(fd, fcntl.LOCK_SH):
                if (target / MARKER).is_file():
                    return False
                fcntl.flock(fd, fcntl.LOCK_UN)
            if _try_lock(fd, fcntl.LOCK_EX):
                try:
                    built = False
                    if not (target / MARKER).is_file():
                        self._build(spec, target, output, should_stop, deadline)
                        built = True
                finally:
                    # Downgrade (or let go after a failure); a concurrent evictor can take the gap,
                    # so the marker is checked again by the next turn of the loop.
                    fcntl.flock(fd, fcntl.LOCK_UN)
                if built and _try_lock(fd, fcntl.LOCK_SH) and (target / MARKER).is_file():
                    return True
                continue
            if not told:
                output(f"waiting for another job that is building environment {spec.digest}")
                told = True
            if should_stop():
                raise EnvironmentCancelled
            if time.monotonic() >= deadline:
                raise EnvironmentFailed(
                    f"environment: {spec.summary} was still being installed by another job after "
                    f"{self.timeout_seconds:g} s"
                )
            time.sleep(POLL_SECONDS)

    def _build(
        self,
        spec: EnvironmentSpec,
        target: Path,
        output: Callable[[str], None],
        should_stop: Callable[[], bool],
        deadline: float,
    ) -> None:
        # Left over by a build that died (the agent was killed): start again from nothing.
        shutil.rmtree(target, ignore_errors=True)
        name, argvs = installer.commands(spec, target, self.installer_name)
        output(
            f"building environment {spec.digest} with {name} (python {spec.interpreter.version}): "
            f"{', '.join(spec.requirements)}"
        )
        try:
            installer.build(
                spec,
                target,
                argvs,
                output=output,
                should_stop=should_stop,
                deadline=deadline,
                timeout=self.timeout_seconds,
            )
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        marker = {
            "digest": spec.digest,
            "requirements": list(spec.requirements),
            "python": spec.interpreter.path,
            "python_version": spec.interpreter.version,
            "system_site_packages": spec.system_site_packages,
            "installer": name,
            "size_bytes": installer.tree_size(target),
            "built_at": time.time(),
        }
        staging = target / f"{MARKER}.tmp"
        staging.write_text(json.dumps(marker))
        os.chmod(staging, 0o644)
        staging.rename(target / MARKER)

    # -- eviction ------------------------------------------------------------------------------

    def ready(self) -> list[tuple[float, int, Path]]:
        """(last use, size in bytes, path) of every complete environment."""
        found = []
        for marker in self.root.glob(f"*/{MARKER}"):
            try:
                size = int(json.loads(marker.read_text()).get("size_bytes") or 0)
                found.append((marker.stat().st_mtime, size, marker.parent))
            except (OSError, ValueError):
                continue
        return sorted(found)

    def _evict(self, keep: str) -> None:
        """Remove least recently used environments no job holds until the cache fits its limit."""
        environments = self.ready()
        total = sum(size for _used, size, _path in environments)
        for _used, size, path in environments:
            if total <= self.limit_bytes:
                return
            if path.name == keep:
                continue
            if self._remove_if_unused(path):
                log.info("evicted job environment %s (%.1f MB)", path.name, size / MB)
                total -= size

    def _remove_if_unused(self, path: Path) -> bool:
        fd = os.open(self.root / ".locks" / f"{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _try_lock(fd, fcntl.LOCK_EX):
                return False
            # The marker goes first: a half-removed environment is never mistaken for a ready one.
            (path / MARKER).unlink(missing_ok=True)
            shutil.rmtree(path, ignore_errors=True)
            return True
        finally:
            os.close(fd)


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
