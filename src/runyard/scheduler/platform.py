"""The platform object: everything routes, pages and background loops share, built once per process.

One typed object instead of a string-keyed bag: settings, the metadata database, the artifact and
registry stores, wake-ups, the placer and the watchdog, and the authenticator. ``read`` and ``write``
run a unit of work in one transaction off the event loop; ``write(..., wake=...)`` notifies wake-up
topics only after the transaction has committed, so a woken claim always sees the new rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import Connection

from runyard.scheduler.placement import Placer
from runyard.scheduler.watchdog import Watchdog
from runyard.scheduler.webhook_loop import WebhookLoop
from runyard.services import pools as pool_service
from runyard.services.identity_protocol import Authenticator, LocalOperator
from runyard.services.registry_workflows import RegistryStores
from runyard.services.secret_box import SecretBox, box_for, gateway_box_for
from runyard.settings import ServerSettings
from runyard.stores.artifacts import open_store
from runyard.stores.artifacts.base import ArtifactStore
from runyard.stores.events.wakeups import Wakeups
from runyard.stores.metadata.session import Database

T = TypeVar("T")

# An attempt handed to an agent that it has not acknowledged (in its heartbeat) after this long is lost.
MIN_DELIVERY_GRACE_SECONDS = 15.0


class Platform:
    def __init__(
        self,
        settings: ServerSettings,
        database: Database,
        *,
        artifacts: ArtifactStore | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.artifacts = artifacts if artifacts is not None else open_store(settings.artifacts_uri, settings)
        self._registry: ArtifactStore | None = None
        # Parts of multipart uploads go through the server's own upload URLs, whatever the store.
        self.multipart_uploads = True
        self.authenticator: Authenticator = authenticator if authenticator is not None else LocalOperator()
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
        self.wakeups = Wakeups(redis_url)
        self.placer = Placer()
        self.watchdog = Watchdog(
            database,
            self.wakeups,
            lease_seconds=settings.lease_seconds,
            stale_run_seconds=settings.stale_run_seconds,
        )
        # Encrypts stored secrets (webhook signing secrets); the same key on every replica.
        self.secrets: SecretBox = box_for(settings)
        # Encrypts the AI gateway's provider credentials, under its own key-encryption key (gateway_kek).
        self.gateway_secrets: SecretBox = gateway_box_for(settings)
        self.webhook_loop = WebhookLoop(database, self.secrets, settings)

    @property
    def registry(self) -> ArtifactStore:
        """The store holding the immutable copies of model versions (opened on first use)."""
        if self._registry is None:
            self._registry = open_store(self.settings.registry_location, self.settings)
        return self._registry

    def registry_stores(self) -> RegistryStores:
        """What the registry workflows (create a version, delete a model) work on."""
        return RegistryStores(self.database, self.artifacts, self.registry, self.settings.artifacts_uri)

    @property
    def lease_seconds(self) -> float:
        return self.settings.lease_seconds

    @property
    def delivery_grace_ms(self) -> int:
        return int(max(self.settings.lease_seconds, MIN_DELIVERY_GRACE_SECONDS) * 1000)

    async def read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one read-only transaction, off the event loop."""

        def unit_of_work() -> T:
            with self.database.read() as connection:
                return work(connection)

        return await anyio.to_thread.run_sync(unit_of_work)

    async def write(self, work: Callable[[Connection], T], *, wake: Callable[[T], Iterable[str]] | None = None) -> T:
        """Run ``work`` in one read-write transaction, off the event loop; then notify ``wake(result)``."""

        def unit_of_work() -> T:
            with self.database.write() as connection:
                return work(connection)

        result = await anyio.to_thread.run_sync(unit_of_work)
        if wake is not None:
            await self.notify(wake(result))
        return result

    async def notify(self, topics: Iterable[str]) -> None:
        """Wake whatever waits on ``topics`` (call only after the change is committed)."""
        topics = list(topics)
        if topics:
            await self.wakeups.notify(topics)

    async def offload(self, work: Callable[[], T]) -> T:
        """Run blocking store I/O (artifact reads and writes) off the event loop."""
        return await anyio.to_thread.run_sync(work)

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
        """Sync the configured pools (every replica does, idempotently), connect wake-ups, start the loops."""
        await asyncio.to_thread(self.sync_pools)
        await self.wakeups.start()
        self.watchdog.start()
        self.webhook_loop.start()

    async def stop(self) -> None:
        await self.webhook_loop.stop()
        await self.watchdog.stop()
        await self.wakeups.stop()
        self.database.dispose()
