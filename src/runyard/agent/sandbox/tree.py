"""Killing a job's whole process tree, including processes that tried to escape it.

A job runs in its own session and process group, but a grandchild can ``setsid()`` and be re-parented
to init, leaving both the group and the parent's descendants. So the sweep kills, repeatedly until
nothing is left: the process group, the session, the live descendants, and any process whose
environment carries the job's sandbox id (inherited by every process the job starts unless it
deliberately builds a new environment — the namespace levels' PID namespace covers that case).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psutil

SWEEP_ROUNDS = 50
SWEEP_PAUSE_SECONDS = 0.02


def _members(root_pid: int, sandbox_id: str | None) -> set[int]:
    found: set[int] = set()
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(root_pid)
        found.add(root_pid)
        found.update(child.pid for child in root.children(recursive=True))
    me = os.getpid()
    for process in psutil.process_iter(["pid"]):
        pid = process.pid
        if pid in found or pid == me:
            continue
        try:
            if os.getpgid(pid) == root_pid or os.getsid(pid) == root_pid:
                found.add(pid)
                continue
            if sandbox_id is not None and process.environ().get("RUNYARD_SANDBOX_ID") == sandbox_id:
                found.add(pid)
                found.update(child.pid for child in process.children(recursive=True))
        except (OSError, psutil.Error):
            continue
    found.discard(me)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_tree(root_pid: int, sandbox_id: str | None = None) -> None:
    """SIGKILL every process of the job rooted at ``root_pid`` until none is left alive."""
    for _ in range(SWEEP_ROUNDS):
        with contextlib.suppress(OSError):
            os.killpg(root_pid, signal.SIGKILL)
        members = [pid for pid in _members(root_pid, sandbox_id) if _alive(pid)]
        if not members:
            return
        for pid in members:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(SWEEP_PAUSE_SECONDS)


def processes_of(root_pid: int, sandbox_id: str | None = None) -> list[int]:
    """Live (non-zombie) processes belonging to the job; empty once ``kill_tree`` has finished."""
    return sorted(pid for pid in _members(root_pid, sandbox_id) if _alive(pid))
