"""Which isolation level a job gets: probe what works on this machine, pick the strongest for ``auto``.

A level counts as available only if a trivial job actually runs under it (as the user jobs run as):
installed tools are not enough, since containers often forbid unprivileged namespaces or mounts.
"""

from __future__ import annotations

import functools
import shutil
import sys
import tempfile
from pathlib import Path

from runyard.agent.sandbox.base import Sandbox, SandboxError, SandboxSpec
from runyard.agent.sandbox.bubblewrap import BubblewrapSandbox
from runyard.agent.sandbox.limits import Limits
from runyard.agent.sandbox.namespace import NamespaceSandbox
from runyard.agent.sandbox.process import ProcessSandbox

LEVELS: dict[str, type[Sandbox]] = {
    "process": ProcessSandbox,
    "namespace": NamespaceSandbox,
    "bubblewrap": BubblewrapSandbox,
}
# Strongest first: bubblewrap also drops capabilities inside the sandbox.
BY_STRENGTH = ("bubblewrap", "namespace", "process")
PROBE_TIMEOUT_SECONDS = 30.0


@functools.cache
def probe(level: str, run_as: tuple[int, int] | None = None) -> str | None:
    """``None`` if ``level`` runs a job here, else why not (cached per process)."""
    backend = LEVELS[level]
    missing = backend.available()
    if missing is not None:
        return missing
    root = Path(tempfile.mkdtemp(prefix=f"runyard-probe-{level}-"))
    try:
        work = root / "work"
        work.mkdir()
        spec = SandboxSpec(
            argv=[sys.executable, "-I", "-S", "-c", "import os; os.listdir('.')"],
            env={"PATH": "/usr/bin:/bin"},
            root_dir=root,
            work_dir=work,
            limits=Limits(timeout_seconds=PROBE_TIMEOUT_SECONDS),
            network=False,
            run_as=run_as,
        )
        try:
            process = backend().start(spec)
        except SandboxError as error:
            return str(error)
        stderr = process.stderr.read().decode(errors="replace").strip()
        outcome = process.wait()
        if outcome.state != "succeeded":
            return f"{level} sandbox does not work here: {outcome.reason}: {stderr[-300:]}"
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def available_levels(run_as: tuple[int, int] | None = None) -> list[str]:
    """The levels that work on this machine, strongest first."""
    return [level for level in BY_STRENGTH if probe(level, run_as) is None]


def choose(requested: str, run_as: tuple[int, int] | None = None, *, need_network_isolation: bool = False) -> Sandbox:
    """The sandbox for ``requested`` (``auto`` = the strongest available).

    Raises:
        SandboxError: the level (or no-network mode) cannot be provided here.
    """
    if requested == "auto":
        for level in BY_STRENGTH:
            if probe(level, run_as) is None and (LEVELS[level].enforces_network or not need_network_isolation):
                return LEVELS[level]()
        raise SandboxError(
            "no-network mode needs the namespace or bubblewrap level, and neither works on this agent: "
            + "; ".join(filter(None, (probe(level, run_as) for level in ("bubblewrap", "namespace"))))
        )
    if requested not in LEVELS:
        raise SandboxError(f"unknown isolation level {requested!r}: use auto, process, namespace or bubblewrap")
    reason = probe(requested, run_as)
    if reason is not None:
        raise SandboxError(f"isolation level {requested!r} is not available on this agent: {reason}")
    backend = LEVELS[requested]
    if need_network_isolation and not backend.enforces_network:
        raise SandboxError(f"the {requested} level cannot enforce no-network mode")
    return backend()


def stronger(first: str, second: str) -> str:
    """The stronger of two levels (``auto`` is weaker than any explicit choice)."""
    if first == "auto":
        return second
    if second == "auto":
        return first
    return min(first, second, key=BY_STRENGTH.index)
