"""What every request handler can reach: settings and the stores, built once per app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from runyard.settings import ServerSettings
from runyard.stores.metadata.session import Database

T = TypeVar("T")


@dataclass
class AppContext:
    settings: ServerSettings
    database: Database
    # Filled by subsystems as they start (artifact stores, event bus, scheduler…).
    extras: dict[str, Any] = field(default_factory=dict)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-write transaction, off the event loop."""

        def unit_of_work() -> T:
            with self.database.write() as connection:
                return work(connection)

        return await run_in_threadpool(unit_of_work)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-only transaction, off the event loop."""

        def unit_of_work() -> T:
            with self.database.read() as connection:
                return work(connection)

        return await run_in_threadpool(unit_of_work)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context
