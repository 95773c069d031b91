"""The server's background loops: lease reaper, inactivity watchdog, stale-run watchdog.

Every replica runs them. They coordinate through the database only: expired workers are taken
``FOR UPDATE SKIP LOCKED`` and every transition re-checks the state it starts from, so two replicas
never apply one change twice. Each pass is one short transaction run off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import Connection

from runyard.domain.topics import queue_topic
from runyard.services import watchdog as watchdog_service
from runyard.services import workers as worker_service
from runyard.stores.events.wakeups import Wakeups
from runyard.stores.metadata.session import Database

logger = logging.getLogger("runyard.watchdog")
T = TypeVar("T")

INACTIVITY_INTERVAL = 5.0
STALE_RUN_INTERVAL = 30.0


def reaper_interval(lease_seconds: float) -> float:
    """Check a few times per lease so a dead worker's jobs are requeued soon after its lease ends."""
    return max(0.2, min(5.0, lease_seconds / 4))


class Watchdog:
    def __init__(
        self,
        database: Database,
        wakeups: Wakeups,
        *,
        lease_seconds: float,
        stale_run_seconds: float | None,
    ) -> None:
        self.database = database
        self.wakeups = wakeups
        self.lease_seconds = lease_seconds
        self.stale_run_seconds = stale_run_seconds
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._every(reaper_interval(self.lease_seconds), self._reap)))
        self._tasks.append(asyncio.create_task(self._every(INACTIVITY_INTERVAL, self._inactivity)))
        if self.stale_run_seconds is not None:
            interval = min(STALE_RUN_INTERVAL, max(0.5, self.stale_run_seconds / 4))
            self._tasks.append(asyncio.create_task(self._every(interval, self._stale_runs)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _every(self, interval: float, work: Callable[[], Awaitable[None]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a database hiccup must not end the loop
                logger.warning("watchdog pass failed: %s", error)

    async def _write(self, work: Callable[[Connection], T]) -> T:
        def unit_of_work() -> T:
            with self.database.write() as connection:
                return work(connection)

        return await asyncio.to_thread(unit_of_work)

    async def _reap(self) -> None:
        requeued = await self._write(lambda connection: worker_service.reap_expired(connection))
        if requeued:
            logger.info("lease reaper requeued %d job(s)", len(requeued))
            await self.wakeups.notify(queue_topic(queue) for queue in requeued)

    async def _inactivity(self) -> None:
        await self._write(watchdog_service.check_inactivity)

    async def _stale_runs(self) -> None:
        seconds = self.stale_run_seconds
        assert seconds is not None
        failed = await self._write(lambda connection: watchdog_service.fail_stale_runs(connection, seconds))
        if failed:
            logger.info("marked %d stale tracking run(s) FAILED", failed)
