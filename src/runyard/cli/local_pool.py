"""The embedded compute pool: ``runyard server`` (with ``local_pool`` on) runs one agent beside itself.

The agent is an ordinary ``runyard agent`` subprocess in pool ``local`` that talks to the server over
HTTP exactly like a remote one (so the embedded default exercises the real protocol). It gets the
machine's GPUs (``--gpus auto``) or CPU slots, its work directory under the data directory, none of
the server's ``RUNYARD_*`` settings (secrets included), and it dies with the server.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

from runyard.settings import ServerSettings

logger = logging.getLogger("runyard.local_pool")

LOCAL_POOL = "local"
STOP_GRACE_SECONDS = 20.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Linux: deliver SIGTERM to the agent if the server dies without stopping it (e.g. ``kill -9``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def agent_command(settings: ServerSettings) -> list[str]:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return [
        sys.executable,
        "-m",
        "runyard",
        "agent",
        "--server",
        f"http://{host}:{settings.port}",
        "--pool",
        LOCAL_POOL,
        "--gpus",
        "auto",
        "--work-dir",
        str(settings.data_dir / "agent"),
    ]


def agent_environment() -> dict[str, str]:
    """The server's environment minus its own settings; agent and sandbox settings pass through."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RUNYARD_") or key.startswith(("RUNYARD_AGENT_", "RUNYARD_SANDBOX_"))
    }


def _reap(process: subprocess.Popen[bytes], stopping: threading.Event) -> None:
    """Wait for the agent so an early death leaves no zombie, and say so (the pool then shows degraded)."""
    code = process.wait()
    if not stopping.is_set():
        logger.error(
            "local compute pool: the agent (pid %d) exited with code %d (its message is above); "
            "queued jobs of pool %r wait until a worker joins it",
            process.pid,
            code,
            LOCAL_POOL,
        )


@contextlib.contextmanager
def local_agent(settings: ServerSettings) -> Iterator[subprocess.Popen[bytes] | None]:
    """Run the local agent for as long as the block runs (nothing when ``local_pool`` is off)."""
    if not settings.local_pool:
        yield None
        return
    (settings.data_dir / "agent").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(agent_command(settings), env=agent_environment(), preexec_fn=_die_with_parent)
    logger.info("local compute pool: agent pid %d", process.pid)
    stopping = threading.Event()
    threading.Thread(target=_reap, args=(process, stopping), name="local-agent-reaper", daemon=True).start()
    try:
        yield process
    finally:
        stopping.set()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
