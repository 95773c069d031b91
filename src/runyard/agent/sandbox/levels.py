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

from runyard.agent.sandbox import network as private_network
from runyard.agent.sandbox.base import Sandbox, SandboxError, SandboxSpec
from runyard.agent.sandbox.bubblewrap import BubblewrapSandbox
from runyard.agent.sandbox.limits import Limits
from runyard.agent.sandbox.namespace import NamespaceSandbox
from runyard.agent.sandbox.process import ProcessSandbox
from runyard.agent.sandbox.users import unreachable_for

LEVELS: dict[str, type[Sandbox]] = {
    "process": ProcessSandbox,
    "namespace": NamespaceSandbox,
    "bubblewrap": BubblewrapSandbox,
}
# Strongest first: bubblewrap also drops capabilities inside the sandbox.
BY_STRENGTH = ("bubblewrap", "namespace", "process")
ISOLATING = ("bubblewrap", "namespace")
PROBE_TIMEOUT_SECONDS = 30.0


@functools.cache
def probe(level: str, run_as: tuple[int, int] | None = None) -> str | None:
    """``None`` if ``level`` runs a job here, else why not (cached per process)."""
    return _trial(level, run_as, network=False)


@functools.cache
def probe_private_network(level: str, run_as: tuple[int, int] | None = None) -> str | None:
    """``None`` if a networked job at ``level`` gets its own network here (pasta), else why not."""
    if not LEVELS[level].isolates_filesystem:
        return "the process level shares the host's network"
    reason = private_network.missing()
    if reason is not None:
        return reason
    return _trial(level, run_as, network=True)


def _trial(level: str, run_as: tuple[int, int] | None, network: bool) -> str | None:
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
            network=network,
            run_as=run_as,
        )
        sandbox = backend()
        if run_as is not None and sandbox.launcher_user(spec) is not None:
            blocked = unreachable_for(sys.executable, *run_as)
            if blocked is not None:
                return f"jobs run as uid {run_as[0]}, which cannot reach the agent's Python {sys.executable}: {blocked}"
        try:
            process = sandbox.start(spec)
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


def _floor(operator: str, run_as: tuple[int, int] | None, need_network_isolation: bool, allow_process: bool) -> str:
    """The operator's level: ``auto`` resolves to the strongest that works (``process`` only if allowed)."""
    if operator != "auto":
        return operator
    for level in BY_STRENGTH:
        if level == "process" and not allow_process:
            continue
        if probe(level, run_as) is None and (LEVELS[level].enforces_network or not need_network_isolation):
            return level
    why = "; ".join(f"{level}: {probe(level, run_as)}" for level in ISOLATING if probe(level, run_as) is not None)
    if need_network_isolation and allow_process:
        raise SandboxError(
            f"no-network mode needs the namespace or bubblewrap level, and neither works on this agent: {why}"
        )
    raise SandboxError(
        f"no isolating sandbox level works on this agent ({why}); set RUNYARD_SANDBOX_ALLOW_PROCESS=true "
        "(or RUNYARD_SANDBOX_ISOLATION=process) to run jobs at the process level, which does not isolate the filesystem"
    )


def choose(
    operator: str,
    run_as: tuple[int, int] | None = None,
    *,
    requested: str = "auto",
    need_network_isolation: bool = False,
    allow_process: bool = False,
) -> Sandbox:
    """The sandbox for a job: the operator's level, raised (never lowered) by the level the job asks for.

    ``operator`` is the agent's ``RUNYARD_SANDBOX_ISOLATION`` (``auto`` = the strongest available;
    ``process`` counts as available under ``auto`` only when ``allow_process``); ``requested`` is the
    recipe's ``sandbox.isolation``, where ``auto`` means no preference.

    Raises:
        SandboxError: the level (or no-network mode) cannot be provided here.
    """
    for name in (operator, requested):
        if name != "auto" and name not in LEVELS:
            raise SandboxError(f"unknown isolation level {name!r}: use auto, process, namespace or bubblewrap")
    level = stronger(_floor(operator, run_as, need_network_isolation, allow_process), requested)
    reason = probe(level, run_as)
    if reason is not None:
        raise SandboxError(f"isolation level {level!r} is not available on this agent: {reason}")
    backend = LEVELS[level]
    if need_network_isolation and not backend.enforces_network:
        raise SandboxError(f"the {level} level cannot enforce no-network mode")
    return backend()


def stronger(level: str, requested: str) -> str:
    """``level`` raised to ``requested`` if that is stronger; ``requested == "auto"`` changes nothing."""
    if requested == "auto":
        return level
    return min(level, requested, key=BY_STRENGTH.index)
