"""The argv of a recipe's entrypoint (``python`` file, ``module`` or ``command``) with its parameters."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runyard.agent.sandbox import SandboxError

RUNNER = Path(__file__).with_name("sandbox") / "_runner.py"


def parameter_arguments(parameters: Mapping[str, Any]) -> list[str]:
    """``--key value`` pairs; strings as they are, other values as JSON (``0.01``, ``true``, ``[1, 2]``)."""
    arguments: list[str] = []
    for key, value in parameters.items():
        arguments += [f"--{key}", value if isinstance(value, str) else json.dumps(value)]
    return arguments


def entrypoint_argv(
    entrypoint: Mapping[str, Any], parameters: Mapping[str, Any], control_dir: Path, python: str = sys.executable
) -> list[str]:
    """The argv for ``entrypoint``; python kinds go through the runner (copied into ``control_dir``), run by ``python``.

    Raises:
        SandboxError: the entrypoint is malformed.
    """
    kind = entrypoint.get("kind")
    target = entrypoint.get("target")
    if kind == "command":
        if isinstance(target, str):
            argv = shlex.split(target)
        elif isinstance(target, list) and all(isinstance(part, str) for part in target):
            argv = list(target)
        else:
            raise SandboxError("a command entrypoint needs an argv list")
        if not argv:
            raise SandboxError("a command entrypoint needs an argv list")
        return argv
    if kind in ("python", "module") and isinstance(target, str) and target:
        control_dir.mkdir(parents=True, exist_ok=True)
        runner = control_dir / "runner.py"
        shutil.copyfile(RUNNER, runner)
        return [python, "-u", str(runner), str(control_dir), kind, target, *parameter_arguments(parameters)]
    raise SandboxError(f"unsupported entrypoint {dict(entrypoint)!r}: kind must be python, module or command")
