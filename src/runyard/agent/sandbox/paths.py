"""What a filesystem-isolated job sees of the host: system paths and the Python installation, read-only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


def interpreter_paths() -> list[str]:
    """The agent's Python (virtualenv and base installation): python entrypoints run with it."""
    found: list[str] = []
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        for path in (prefix, os.path.realpath(prefix)):
            found.append(path)
    executable_dir = os.path.dirname(os.path.realpath(sys.executable))
    found.append(executable_dir)
    return found


def read_only_paths(extra: list[Path] | tuple[Path, ...] = ()) -> list[str]:
    """System paths, the interpreter and ``extra``, without entries already covered by another."""
    candidates = [*SYSTEM_PATHS, *interpreter_paths(), *(str(path) for path in extra)]
    unique = sorted({os.path.normpath(path) for path in candidates if os.path.lexists(path)})
    kept: list[str] = []
    for path in unique:
        if any(path.startswith(parent.rstrip("/") + "/") for parent in kept):
            continue
        kept.append(path)
    return kept
