"""Runs a python entrypoint inside the sandbox and leaves a marker when it dies of a resource limit.

Usage: ``python -u _runner.py CONTROL_DIR python|module TARGET [ARGS…]``.

Under ``RLIMIT_AS`` an allocation past the limit raises ``MemoryError``; under ``RLIMIT_FSIZE`` a
write past the limit raises ``OSError(EFBIG)`` (CPython ignores ``SIGXFSZ``). Either may be caught
and re-raised as something else, so the runner looks through the exception chain, writes a marker
file into CONTROL_DIR for the agent and exits 1 like any uncaught exception.

This file is copied into each job's directory and run with the agent's interpreter, so it imports
nothing from runyard.
"""

import errno
import os
import runpy
import sys
import traceback

MEMORY_MARKER = "memory-error"
FILE_SIZE_MARKER = "file-size-error"


def _chain(error: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _marker_for(error: BaseException) -> str | None:
    for link in _chain(error):
        if isinstance(link, MemoryError):
            return MEMORY_MARKER
        if isinstance(link, OSError) and link.errno == errno.EFBIG:
            return FILE_SIZE_MARKER
    return None


def _mark(control_dir: str, name: str) -> None:
    try:
        os.close(os.open(os.path.join(control_dir, name), os.O_WRONLY | os.O_CREAT, 0o644))
    except OSError:
        pass


def main() -> None:
    control_dir, kind, target, *args = sys.argv[1:]
    sys.argv = [target, *args]
    try:
        if kind == "module":
            sys.path[0] = os.getcwd()
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            script = os.path.abspath(target)
            sys.path[0] = os.path.dirname(script)
            runpy.run_path(script, run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:
        marker = _marker_for(error)
        if marker is not None:
            _mark(control_dir, marker)
        try:
            traceback.print_exc()
        except MemoryError:
            sys.stderr.write(f"{type(error).__name__}\n")
        # SystemExit (not os._exit) so atexit hooks still run, e.g. mlflow ending the active run.
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
