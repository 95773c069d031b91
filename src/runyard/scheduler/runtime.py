"""The compute side of one server process: wake-ups, placement and the watchdog loops.

Built once per app; ``start`` syncs the configured pools into the database (every replica does,
idempotently), connects the Redis relay when configured, and starts the loops.
"""

from __future__ import annotations

import asyncio

from runyard.scheduler.placement import Placer
from runyard.scheduler.watchdog import Watchdog
from runyard.services import pools as pool_service
from runyard.settings import ServerSettings
from runyard.stores.events.wakeups import Wakeups
from runyard.stores.metadata.session import Database

# An attempt handed to an agent that it has not acknowledged (in its heartbeat) after this long is lost.
MIN_DELIVERY_GRACE_SECONDS = 15.0


class ComputeRuntime:
    def __init__(self, settings: ServerSettings, database: Database) -> None:
        self.settings = settings
        self.database = database
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
        self.wakeups = Wakeups(redis_url)
        self.placer = Placer()
        self.watchdog = Watchdog(
            database,
            self.wakeups,
            lease_seconds=settings.lease_seconds,
            stale_run_seconds=settings.stale_run_seconds,
        )

    @property
    def lease_seconds(self) -> float:
        return self.settings.lease_seconds

    @property
    def delivery_grace_ms(self) -> int:
        return int(max(self.settings.lease_seconds, MIN_DELIVERY_GRACE_SECONDS) * 1000)

    def sync_pools(self) -> None:
        specs = [
            pool_service.PoolSpec(
                name=pool.name, gpus_per_replica=pool.gpus_per_replica, queues=pool.queues, labels=pool.labels
            )
            for pool in self.settings.pools
        ]
        with self.database.write() as connection:
            pool_service.sync_configured_pools(connection, specs, local_pool=self.settings.local_pool)

    async def start(self) -> None:
        await asyncio.to_thread(self.sync_pools)
        await self.wakeups.start()
        self.watchdog.start()

    async def stop(self) -> None:
        await self.watchdog.stop()
        await self.wakeups.stop()
