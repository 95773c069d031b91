"""What a job environment is made of: an interpreter and a requirement set, and the digest naming the pair."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

# Bumped when the layout of a built environment changes, so old ones are never reused.
LAYOUT_VERSION = "1"
PROBE = "import json, sys; print(json.dumps([sys.version.split()[0], sys.base_prefix, sys.base_exec_prefix]))"


class EnvironmentFailed(Exception):
    """The job's environment cannot be had; ``reason`` (``environment: …``) is the job's failure reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EnvironmentCancelled(Exception):
    """The job was cancelled (or the agent is stopping) while its environment was being prepared."""


@dataclass(frozen=True)
class Interpreter:
    """A base Python that environments are created from."""

    path: str
    version: str
    prefixes: tuple[str, ...]


def default_python() -> str:
    """The agent's base interpreter: job environments do not inherit the agent's own packages."""
    return str(getattr(sys, "_base_executable", None) or sys.executable)


@functools.lru_cache(maxsize=8)
def probe_interpreter(path: str) -> Interpreter:
    """Ask ``path`` for its version and installation prefixes (once per agent and interpreter).

    Raises:
        EnvironmentFailed: ``path`` is not a working Python.
    """
    try:
        answer = subprocess.run([path, "-I", "-c", PROBE], capture_output=True, text=True, timeout=30, check=True)
        version, base_prefix, base_exec_prefix = json.loads(answer.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        raise EnvironmentFailed(f"environment: the interpreter {path} does not work: {error}") from error
    prefixes = {base_prefix, base_exec_prefix, os.path.realpath(base_prefix), os.path.realpath(base_exec_prefix)}
    return Interpreter(path=path, version=str(version), prefixes=tuple(sorted(prefixes)))


def normalise(requirements: Sequence[str]) -> tuple[str, ...]:
    """One requirement per entry, blank and comment lines dropped, duplicates removed, in a stable order."""
    lines = {" ".join(line.split()) for line in requirements}
    return tuple(sorted(line for line in lines if line and not line.startswith("#")))


@dataclass(frozen=True)
class EnvironmentSpec:
    """A requirement set on an interpreter; equal specs share one cached environment."""

    requirements: tuple[str, ...]
    interpreter: Interpreter
    system_site_packages: bool = False

    @property
    def digest(self) -> str:
        identity = {
            "layout": LAYOUT_VERSION,
            "python": [os.path.realpath(self.interpreter.path), self.interpreter.version],
            "system_site_packages": self.system_site_packages,
            "requirements": list(self.requirements),
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]

    @property
    def summary(self) -> str:
        shown = ", ".join(self.requirements[:5])
        more = len(self.requirements) - 5
        return shown + (f" and {more} more" if more > 0 else "")
