"""What a workload is: a named, bounded piece of work against one live server that returns measurements."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sizes import Sizes


@dataclass
class Bench:
    """Everything a workload may use: the server, one kept-alive client per concurrent caller, sizes."""

    server_name: str  # "runyard" or "mlflow"
    database_url: str  # the server's own database (for seeding MLflow's large data sets directly)
    clients: list[httpx.Client]
    sizes: Sizes
    scratch: Path  # this server's private temporary directory
    shared: Path  # files shared by both servers of a run (the artifact source file)
    seed_directly: bool = False  # load large data sets into the database instead of through REST
    extras: dict[str, Any] = field(default_factory=dict)  # non-numeric findings, e.g. a search's first page
    # Called around each timed section (the runner uses it to profile only what is measured).
    on_measure: Callable[[str], contextlib.AbstractContextManager[None]] | None = None

    @property
    def client(self) -> httpx.Client:
        return self.clients[0]

    @contextlib.contextmanager
    def measuring(self, label: str) -> Iterator[None]:
        """Wrap a timed section (loading and warm-up stay outside)."""
        if self.on_measure is None:
            yield
            return
        with self.on_measure(label):
            yield


@dataclass(frozen=True)
class Workload:
    """``run`` returns ``{key: value}`` for every key in ``keys``; raising ``Unavailable`` marks them all so."""

    name: str
    keys: tuple[str, ...]
    run: Callable[[Bench], dict[str, float]]
