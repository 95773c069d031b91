"""The embedded compute pool: ``runyard server`` (with ``local_pool`` on) runs one agent beside itself.

The agent is an ordinary ``runyard agent`` subprocess in pool ``local`` that talks to the server over
HTTP exactly like a remote one (so the embedded default exercises the real protocol). It gets the
machine's GPUs (``--gpus auto``) or CPU slots, its work directory under the data directory, the
server's log level, none of the server's ``RUNYARD_*`` settings (secrets included), and it dies with
the server.

It runs in a process group of its own, so a Ctrl-C in the terminal reaches the server only: the
server stops the agent first — which hands its jobs back and deregisters while the server still
answers — and only then stops serving.
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
from socket import socket
from types import FrameType

import uvicorn
from uvicorn.supervisors import Multiprocess

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
        "--log-level",
        settings.log_level,
    ]


def agent_environment(token: str | None = None) -> dict[str, str]:
    """The server's environment minus its own settings; agent and sandbox settings pass through.

    ``token``: the agent token the server minted for its local pool (auth on).
    """
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RUNYARD_") or key.startswith(("RUNYARD_AGENT_", "RUNYARD_SANDBOX_"))
    }
    if token is not None:
        environment["RUNYARD_AGENT_TOKEN"] = token
    return environment


class LocalAgent:
    """The agent subprocess; ``stop`` may be called from any thread, any number of times."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        threading.Thread(target=_reap, args=(process, self.stopping), name="local-agent-reaper", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM, then wait for the graceful shutdown (killed if it takes longer than the grace)."""
        with self._lock:
            self.stopping.set()
            if self.process.poll() is not None:
                return
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("the local agent did not stop in %.0f s: killing it", STOP_GRACE_SECONDS)
                self.process.kill()
                self.process.wait()


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
def local_agent(settings: ServerSettings, token: str | None = None) -> Iterator[LocalAgent | None]:
    """Run the local agent for as long as the block runs (nothing when ``local_pool`` is off)."""
    if not settings.local_pool:
        yield None
        return
    (settings.data_dir / "agent").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        agent_command(settings), env=agent_environment(token), preexec_fn=_die_with_parent, process_group=0
    )
    logger.info("local compute pool: agent pid %d", process.pid)
    agent = LocalAgent(process)
    try:
        yield agent
    finally:
        agent.stop()


class AgentFirstServer(uvicorn.Server):
    """A uvicorn server that, on SIGINT/SIGTERM, stops the local agent before it stops serving."""

    def __init__(self, config: uvicorn.Config, agent: LocalAgent | None) -> None:
        super().__init__(config)
        self._agent = agent
        self._agent_stopping = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        agent = self._agent
        if agent is None or self._agent_stopping:
            super().handle_exit(sig, frame)
            return
        self._agent_stopping = True

        # Not in the handler itself: it runs on the event loop's thread, which must keep serving
        # the agent's last requests (its final reports and its deregistration).
        def stop_agent_then_server() -> None:
            agent.stop()
            super(AgentFirstServer, self).handle_exit(sig, frame)

        threading.Thread(target=stop_agent_then_server, name="stop-local-agent", daemon=True).start()


class AgentFirstMultiprocess(Multiprocess):
    """The multi-worker supervisor, stopping the local agent before its workers."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket], agent: LocalAgent | None) -> None:
        super().__init__(config, sockets)
        self._agent = agent

    def handle_int(self) -> None:
        if self._agent is not None:
            self._agent.stop()
        super().handle_int()

    def handle_term(self) -> None:
        if self._agent is not None:
            self._agent.stop()
        super().handle_term()
