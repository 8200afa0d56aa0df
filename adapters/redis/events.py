"""Events across processes: Redis pub/sub, one subscription per process fanned out locally."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import translated
from adapters.redis.codec import decode_event, encode_event
from application.delivery import deliver
from application.errors import DependencyUnavailable
from application.ports.events import LinkWatcher, Subscriber
from domain.events import DomainEvent

log = logging.getLogger(__name__)

MAX_HELD_EVENTS = 10_000
"""Events held while publishing fails; past that the oldest are dropped (and counted)."""


class RedisEventBus:
    """EventBus on one Redis channel.

    Every process publishes to the channel and holds a single subscription to it, whose
    messages it hands to its local subscribers (WebSocket connections). Events of this
    process come back through Redis too, so every process sees one ordered stream. When
    Redis drops, the listener reconnects with backoff by itself.

    Publishing never fails the change that caused it: an event that cannot be published is
    held, in order, and sent again in the background until Redis takes it, while later events
    queue behind it rather than overtake it. Losing Redis and getting it back are each logged
    once. (Receivers are safe with late events: caches are version-guarded and revocations
    idempotent; processes that lost the subscription meanwhile distrust what events keep
    fresh until it is back, see LinkWatcher.) A busy connection pool only makes a publish wait.
    """

    def __init__(self, client: Redis, channel: str = "portico:events") -> None:
        self._client, self._channel = client, channel
        self._subscribers: list[Subscriber] = []
        self._task: asyncio.Task[None] | None = None
        self._watchers: list[LinkWatcher] = []
        self.connected = asyncio.Event()
        self._held: deque[bytes] = deque(maxlen=MAX_HELD_EVENTS)
        self._sender: asyncio.Task[None] | None = None
        self.held_total = self.dropped_total = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def watch(self, watcher: LinkWatcher) -> None:
        self._watchers.append(watcher)

    async def publish(self, event: DomainEvent) -> None:
        """Publish now, or hold the event for the background sender (never raises)."""
        message = encode_event(event)
        if not self._held:
            try:
                await self._send(message)
                return
            except DependencyUnavailable:
                log.warning("event bus cannot publish to redis; holding events until it can")
        self._hold(message)

    @translated
    async def _send(self, message: bytes) -> None:
        await self._client.publish(self._channel, message)

    def _hold(self, message: bytes) -> None:
        if len(self._held) == self._held.maxlen:
            self.dropped_total += 1
        self._held.append(message)
        self.held_total += 1
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_held(), name="redis-event-sender")

    async def _send_held(self) -> None:
        backoff, sent = 0.05, 0
        while self._held:
            try:
                await self._send(self._held[0])
            except DependencyUnavailable:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            self._held.popleft()
            sent += 1
        log.warning(
            "event bus publishes to redis again; %d held events sent, %d dropped in all",
            sent,
            self.dropped_total,
        )

    async def start(self) -> None:
        """Start listening (in the background); returns at once."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="redis-event-bus")

    async def stop(self) -> None:
        """Stop listening (and stop sending held events: they are notifications only)."""
        for task in (self._task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._sender = None

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
                    log.warning("event bus lost its redis subscription (%s); reconnecting", exc)
                lost = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _link_up(self, after_loss: bool) -> None:
        for watcher in self._watchers:
            try:
                await watcher.link_up(after_loss)  # e.g. a cache flush, before it is trusted
            except Exception:  # the watcher stays distrustful; the bus still delivers events
                log.exception("%s could not recover from the outage", type(watcher).__name__)
        self.connected.set()
        if after_loss:
            log.warning("event bus subscribed to redis again")

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
