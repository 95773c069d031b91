"""Peak resident memory of a live server process while something runs (for memory-bound tests)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

MB = 1024 * 1024


@dataclass
class PeakGrowth:
    baseline: int = 0
    peak: int = 0

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / MB


def _high_water_mark(pid: int) -> int | None:
    """The kernel's peak RSS (``VmHWM``), which also catches spikes between two samples."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_high_water_mark(pid: int) -> bool:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@contextmanager
def peak_rss_growth(pid: int, interval: float = 0.01) -> Iterator[PeakGrowth]:
    """How far the process's RSS rose above its level at the start, measured with psutil (+ ``VmHWM``)."""
    process = psutil.Process(pid)
    result = PeakGrowth(baseline=process.memory_info().rss)
    result.peak = result.baseline
    hwm_usable = _reset_high_water_mark(pid)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                result.peak = max(result.peak, process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        if hwm_usable:
            hwm = _high_water_mark(pid)
            if hwm is not None:
                result.peak = max(result.peak, hwm)
