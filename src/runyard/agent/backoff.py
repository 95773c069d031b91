"""Exponential back-off with jitter, for riding out a server or database that is briefly unreachable."""

from __future__ import annotations

import random
import threading


class Backoff:
    """Delays of ``initial * 2**n`` capped at ``maximum``, each drawn from its upper half (equal jitter).

    Jitter spreads the retries of many agents that lost the server at the same moment.
    """

    def __init__(self, initial: float = 0.5, maximum: float = 30.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        ceiling = min(self.maximum, self.initial * float(2**self.failures))
        self.failures += 1
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def wait(self, stop: threading.Event) -> bool:
        """Sleep the next delay unless ``stop`` is set first; ``True`` if it was set."""
        return stop.wait(self.next_delay())

    def reset(self) -> None:
        self.failures = 0
