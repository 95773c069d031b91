"""Deliver queued webhook events: every replica runs this loop, and row locks hand each delivery to one.

Each round claims due deliveries in one short transaction (leasing them), sends them outside any
transaction, then records each outcome: delivered, due again after a backoff, or failed for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import anyio.to_thread
import orjson

from runyard.domain.webhooks import Event
from runyard.services import webhook_delivery, webhooks
from runyard.services.secret_box import SecretBox
from runyard.settings import ServerSettings
from runyard.stores.metadata.session import Database

logger = logging.getLogger("runyard.webhooks")

IDLE_SECONDS = 1.0
BATCH = 20


class WebhookLoop:
    def __init__(self, database: Database, box: SecretBox, settings: ServerSettings) -> None:
        self.database = database
        self.box = box
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="runyard-webhooks")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                sent = await anyio.to_thread.run_sync(self.deliver_due)
            except Exception:  # the loop must survive a database hiccup
                logger.warning("webhook delivery round failed", exc_info=True)
                sent = 0
            if sent < BATCH:
                await asyncio.sleep(IDLE_SECONDS)

    def deliver_due(self) -> int:
        """One round: claim, send, record. Returns how many deliveries were attempted."""
        lease_ms = int((self.settings.webhook_timeout_seconds + 30) * 1000)
        with self.database.write() as connection:
            claimed = webhooks.claim_due(connection, limit=BATCH, lease_ms=lease_ms)
        for delivery in claimed:
            self._deliver(delivery)
        return len(claimed)

    def _deliver(self, delivery: dict[str, object]) -> None:
        delivery_id = str(delivery["delivery_id"])
        try:
            with self.database.read() as connection:
                webhook = webhooks.webhook_with_secret(connection, self.box, str(delivery["webhook_id"]))
            event = Event.parse(str(delivery["entity"]), str(delivery["action"]))
            result = webhook_delivery.send(
                webhook,
                event,
                orjson.loads(str(delivery["payload"])),
                delivery_id=delivery_id,
                timeout=self.settings.webhook_timeout_seconds,
                allow_private=self.settings.webhook_allow_private_urls,
            )
            status, error = result.status, result.error
        except Exception as failure:  # a webhook deleted meanwhile, an undecryptable secret…
            status, error = None, f"{type(failure).__name__}: {failure}"
        if error is not None:
            logger.info("webhook delivery %s failed (attempt %s): %s", delivery_id, delivery["attempts"], error)
        with self.database.write() as connection:
            webhooks.finish_delivery(
                connection,
                delivery_id,
                attempts=int(str(delivery["attempts"])),
                max_attempts=self.settings.webhook_max_attempts,
                status=status,
                error=error,
            )
