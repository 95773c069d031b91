"""Wake-ups: tell waiting requests (claims, log followers) that something changed, at once.

Within one server process this is an in-process notification (asyncio events). With Redis
configured, every notification is also published on one channel and each server replica relays what
the others publish to its own waiters. Redis only shortens waits: the database stays the only copy of
the state, every waiter re-checks it when woken, and waiters also re-check on a short timer, so a
Redis outage costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

logger = logging.getLogger("runyard.wakeups")

CHANNEL = "runyard:wakeups"


class Waiter:
    """One waiting request: woken by a notification on any of its topics."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.topics: list[str] = []

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """True when woken, False after ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Wakeups:
    """Topic → waiters, plus an optional Redis relay across server replicas."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._topics: dict[str, set[Waiter]] = {}
        self._redis_url = redis_url
        self._redis: Any = None
        self._relay: asyncio.Task[None] | None = None
        self._origin = uuid.uuid4().hex
        self._loop: asyncio.AbstractEventLoop | None = None

    @contextlib.contextmanager
    def subscribe(self, topics: Iterable[str]) -> Iterator[Waiter]:
        """Register a waiter before checking the database, so no notification falls in between."""
        waiter = Waiter()
        self._add(waiter, topics)
        try:
            yield waiter
        finally:
            self._remove(waiter)

    def resubscribe(self, waiter: Waiter, topics: Iterable[str]) -> None:
        """Move a subscribed waiter to other topics (re-check the database afterwards)."""
        self._remove(waiter)
        self._add(waiter, topics)

    def _add(self, waiter: Waiter, topics: Iterable[str]) -> None:
        waiter.topics = list(topics)
        for topic in waiter.topics:
            self._topics.setdefault(topic, set()).add(waiter)

    def _remove(self, waiter: Waiter) -> None:
        for topic in waiter.topics:
            waiters = self._topics.get(topic)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._topics[topic]
        waiter.topics = []

    def notify_local(self, topics: Iterable[str]) -> None:
        for topic in topics:
            for waiter in list(self._topics.get(topic, ())):
                waiter.set()

    async def notify(self, topics: Iterable[str]) -> None:
        """Wake waiters here and, through Redis, on every other replica."""
        names = sorted(set(topics))
        if not names:
            return
        self.notify_local(names)
        if self._redis is not None:
            try:
                await self._redis.publish(CHANNEL, f"{self._origin} {' '.join(names)}")
            except Exception as error:  # Redis down: other replicas fall back to their timers
                logger.warning("cannot publish wake-up to Redis: %s", error)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if not self._redis_url:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(self._redis_url)
        self._relay = asyncio.create_task(self._relay_forever(), name="runyard-wakeup-relay")

    async def _relay_forever(self) -> None:
        while True:
            try:
                pubsub = self._redis.pubsub()
                await pubsub.subscribe(CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    origin, *topics = message["data"].decode().split(" ")
                    if origin != self._origin:
                        self.notify_local(topics)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning("Redis wake-up relay interrupted (%s); retrying in 2 s", error)
                await asyncio.sleep(2)

    async def stop(self) -> None:
        if self._relay is not None:
            self._relay.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._relay
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
