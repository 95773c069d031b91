"""Streaming a job's stdout/stderr to the server, line by line, in batches of at most 200 ms.

One reader thread per pipe splits output into lines; the shipper thread sends whatever has
accumulated every ``FLUSH_SECONDS`` (or sooner when a batch is full). While the server is
unreachable lines wait in a bounded buffer and go out, in order, once it is back; past the bound
the oldest are dropped and a line says how many.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import IO, Any

from runyard.agent.backoff import Backoff
from runyard.client._agent import AgentAPI
from runyard.errors import Conflict, NotFound, RunyardError, Unavailable

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.2
MAX_BATCH_LINES = 1000
MAX_BUFFERED_LINES = 200_000
MAX_LINE_BYTES = 64 * 1024


def _now_ms() -> int:
    return int(time.time() * 1000)


class LogShipper:
    """Collects lines of one attempt and appends them to its log on the server."""

    def __init__(self, client: AgentAPI, job_id: str, attempt: int) -> None:
        self._client = client
        self._job_id = job_id
        self._attempt = attempt
        self._lines: deque[dict[str, Any]] = deque()
        self._dropped = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._abandoned = False
        self.last_line_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"logs-{job_id}-{attempt}", daemon=True)
        self._thread.start()

    def add(self, stream: str, line: str) -> None:
        with self._lock:
            if len(self._lines) >= MAX_BUFFERED_LINES:
                self._lines.popleft()
                self._dropped += 1
            self._lines.append({"stream": stream, "line": line, "ts": _now_ms()})
            self.last_line_at = time.monotonic()
            if len(self._lines) >= MAX_BATCH_LINES:
                self._wake.set()

    def note(self, message: str) -> None:
        """A line from the agent itself, on stderr, prefixed ``[runyard]``."""
        self.add("stderr", f"[runyard] {message}")

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            batch: list[dict[str, Any]] = []
            if self._dropped:
                batch.append(
                    {"stream": "stderr", "line": f"[runyard] {self._dropped} log lines dropped", "ts": _now_ms()}
                )
                self._dropped = 0
            while self._lines and len(batch) < MAX_BATCH_LINES:
                batch.append(self._lines.popleft())
            return batch

    def _put_back(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self._lines.extendleft(reversed(batch))

    def _send(self, backoff: Backoff) -> bool:
        """Send one batch; ``False`` when there was nothing to send."""
        batch = self._take()
        if not batch:
            return False
        try:
            self._client.append_logs(self._job_id, self._attempt, batch)
            backoff.reset()
        except (Conflict, NotFound):
            # The attempt is no longer current: its log is closed.
            self._abandoned = True
        except Unavailable as error:
            self._put_back(batch)
            log.info("log append for %s/%s deferred: %s", self._job_id, self._attempt, error)
            backoff.wait(self._closing)
        except RunyardError as error:
            log.warning("log lines of %s/%s refused: %s", self._job_id, self._attempt, error.message)
        return True

    def _run(self) -> None:
        backoff = Backoff(initial=0.2, maximum=10.0)
        while not self._abandoned:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if self._closing.is_set():
                return
            while self._send(backoff) and not self._abandoned and not self._closing.is_set():
                if len(self._lines) < MAX_BATCH_LINES:
                    break

    def close(self, timeout: float = 30.0) -> None:
        """Stop the thread and send what is left, retrying until ``timeout``."""
        self._closing.set()
        self._wake.set()
        self._thread.join(timeout)
        deadline = time.monotonic() + timeout
        backoff = Backoff(initial=0.2, maximum=5.0)
        while not self._abandoned and time.monotonic() < deadline:
            with self._lock:
                if not self._lines and not self._dropped:
                    return
            batch = self._take()
            try:
                self._client.append_logs(self._job_id, self._attempt, batch)
            except Unavailable:
                self._put_back(batch)
                time.sleep(min(backoff.next_delay(), max(0.0, deadline - time.monotonic())))
            except RunyardError:
                return


def pump(pipe: IO[bytes], stream: str, shipper: LogShipper) -> None:
    """Read ``pipe`` to its end, handing each line (without its newline) to ``shipper``."""
    with pipe:
        while True:
            raw = pipe.readline(MAX_LINE_BYTES)
            if not raw:
                return
            shipper.add(stream, raw.rstrip(b"\r\n").decode("utf-8", errors="replace"))


def start_pumps(pipes: dict[str, IO[bytes]], shipper: LogShipper) -> list[threading.Thread]:
    threads = [
        threading.Thread(target=pump, args=(pipe, stream, shipper), name=f"pump-{stream}", daemon=True)
        for stream, pipe in pipes.items()
    ]
    for thread in threads:
        thread.start()
    return threads
