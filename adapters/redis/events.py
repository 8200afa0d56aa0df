"""Events across processes: Redis pub/sub, one subscription per process fanned out locally."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import translated
from adapters.redis.codec import decode_event, encode_event
from application.delivery import deliver
from application.ports.events import LinkWatcher, Subscriber
from domain.events import DomainEvent

log = logging.getLogger(__name__)


class RedisEventBus:
    """EventBus on one Redis channel.

    Every process publishes to the channel and holds a single subscription to it, whose
    messages it hands to its local subscribers (WebSocket connections). Events of this
    process come back through Redis too, so every process sees one ordered stream. When
    Redis drops, the listener reconnects with backoff by itself; events published while it
    is down are lost (they are notifications: the data they announce is in the database).
    """

    def __init__(self, client: Redis, channel: str = "portico:events") -> None:
        self._client, self._channel = client, channel
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._watchers: list[LinkWatcher] = []
        self.connected = asyncio.Event()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def watch(self, watcher: LinkWatcher) -> None:
        self._watchers.append(watcher)

    @translated
    async def publish(self, event: DomainEvent) -> None:
        await self._client.publish(self._channel, encode_event(event))

    async def start(self) -> None:
        """Start listening (in the background); returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="redis-event-bus")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        backoff, lost = 0.1, False
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    await self._link_up(lost)
                    backoff = 0.1
                    await self._pump(pubsub)
            except (RedisError, OSError) as exc:
                if self.connected.is_set() or not lost:
                    self._link_down()
                lost = True
                log.warning("event bus lost redis (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _link_up(self, after_loss: bool) -> None:
        for watcher in self._watchers:
            try:
                await watcher.link_up(after_loss)  # e.g. a cache flush, before it is trusted
            except Exception:  # the watcher stays distrustful; the bus still delivers events
                log.exception("%s could not recover from the outage", type(watcher).__name__)
        self.connected.set()

    def _link_down(self) -> None:
        self.connected.clear()
        for watcher in self._watchers:
            watcher.link_down()

    async def _pump(self, pubsub: object) -> None:
        async for message in pubsub.listen():  # type: ignore[attr-defined]
            try:
                event = decode_event(message["data"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed event message")
                continue
            await deliver(event, self._subscribers)
