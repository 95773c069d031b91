"""Sample the runyard server with py-spy while a workload runs, and summarise the hot spots."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from servers import REPO

PY_SPY = REPO / ".venv" / "bin" / "py-spy"
TOP = 15
# Leaf frames of threads that are waiting, not working (py-spy's idle detection misses some with --nonblocking).
WAITING = (
    "Condition.wait (threading.py",
    "Runner.run (asyncio/runners.py",
    "select (selectors.py",
    "_worker (concurrent",
)
# Entry-point frames every sample of the main thread carries; they say nothing about where time goes.
ENTRY = ("runyard/cli/", "runyard/__main__")


class Profiler:
    """``py-spy record --format raw`` on one pid; ``stop()`` returns the top functions as text lines."""

    def __init__(self, pid: int, stem: Path) -> None:
        if not PY_SPY.exists():
            raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
        self.pid = pid
        self.raw = stem.with_suffix(".txt")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [str(PY_SPY), "record", "--pid", str(self.pid), "--format", "raw", "--function", "--rate", "200"]
        command += ["--subprocesses", "--nonblocking", "--output", str(self.raw)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1)  # py-spy attaches before the workload's first request

    def stop(self) -> list[str]:
        if self.process is None:
            return []
        self.process.send_signal(signal.SIGINT)  # py-spy writes its output on interrupt
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self.raw.exists():
            reason = self.process.stderr.read().decode()[-300:] if self.process.stderr else ""
            return [f"py-spy wrote nothing: {reason}"]
        return summarise(self.raw)


def summarise(raw: Path) -> list[str]:
    """Top functions by own samples and, among runyard's own code, by inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = waiting = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame for frame in stack.split(";") if frame and not frame.startswith("process ")]
        if not frames:
            continue
        if frames[-1].startswith(WAITING):
            waiting += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            if "runyard/" in frame and not any(entry in frame for entry in ENTRY):
                inclusive[frame] += count
    if not total:
        return ["no samples"]
    lines = [f"{total} busy samples ({waiting} waiting ones left out); own time:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in own.most_common(TOP)]
    lines += ["runyard code, inclusive time:"]
    lines += [f"{count / total:6.1%}  {frame}" for frame, count in inclusive.most_common(TOP)]
    return lines
