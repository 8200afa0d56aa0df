"""Events across processes: Redis pub/sub, one subscription per process fanned out locally."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from adapters.redis.client import translated
from adapters.redis.codec import decode_event, encode_event
from adapters.redis.confirmations import Confirmations
from application.errors import DependencyUnavailable
from application.ports.events import LinkWatcher, Subscriber
from application.resilience.delivery import deliver
from domain.events import DomainEvent

log = logging.getLogger(__name__)

MAX_HELD_EVENTS = 10_000
"""Events held while publishing fails; past that the oldest are dropped (and counted)."""
SETTLE_SECONDS = 2.0
"""After a loss, how long the subscription is up before watchers trust events again: time
for every other process to reconnect and send what it held meanwhile."""

_EVENT, _ACK, _SEP = b"e", b"a", b"|"


class RedisEventBus:
    """EventBus on one Redis channel.

    Every process publishes to the channel and holds a single subscription to it. An event
    reaches this process's subscribers at once, in `publish`, whatever Redis's state; other
    processes' events reach them through the subscription. Messages are framed
    `e|<origin>|<id>|<event>`, so a process skips its own when they come back.

    Events of the `confirm` types (access changes) are acknowledged by every process that
    applied them (`a|<origin>|<id>`), and `publish` returns only once every subscribed process
    has, or after a bounded wait: when a logout answers, no other process accepts the token.

    Publishing never fails the change that caused it: an event that cannot be published is
    held, in order, and sent again by one background sender as soon as Redis takes messages
    (before any later event, which queues behind it and wakes the sender). Losing Redis and
    getting it back are each logged once. After a loss, watchers are told the link is back
    only `SETTLE_SECONDS` after the subscription is, so that events the other processes held
    meanwhile have arrived. A busy connection pool only makes a publish wait.
    """

    def __init__(
        self,
        client: Redis,
        channel: str = "portico:events",
        *,
        confirm: tuple[type, ...] = (),
        settle_seconds: float = SETTLE_SECONDS,
    ) -> None:
        self._client, self._channel = client, channel
        self._confirm, self._settle_seconds = confirm, settle_seconds
        self._subscribers: list[Subscriber] = []
        self._watchers: list[LinkWatcher] = []
        self.connected = asyncio.Event()
        self._origin = uuid.uuid4().hex.encode()
        self._confirmations = Confirmations()
        self._held: deque[bytes] = deque(maxlen=MAX_HELD_EVENTS)
        self._wake = asyncio.Event()  # something new is held, or the subscription is back
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.held_total = self.dropped_total = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def watch(self, watcher: LinkWatcher) -> None:
        self._watchers.append(watcher)

    @property
    def holding(self) -> int:
        """How many events wait to be sent again."""
        return len(self._held)

    async def publish(self, event: DomainEvent) -> None:
        """Deliver to this process's subscribers, then to the others now (waiting for their
        acknowledgements if confirmed), or hold the event for later (never raises)."""
        await deliver(event, self._subscribers)
        message_id = uuid.uuid4().hex[:16].encode()
        message = _SEP.join((_EVENT, self._origin, message_id, encode_event(event)))
        if self._held:  # queue behind what is held; the sender tries again now
            self._hold(message)
            return
        confirm = isinstance(event, self._confirm)
        if confirm:
            self._confirmations.expect(message_id)
        try:
            receivers = await self._send(message)
        except DependencyUnavailable:
            self._confirmations.forget(message_id)
            log.warning("event bus cannot publish to redis; holding events until it can")
            self._hold(message)
            return
        if confirm:
            own = 1 if self.connected.is_set() else 0
            await self._confirmations.wait(message_id, max(0, receivers - own))

    @translated
    async def _send(self, message: bytes) -> int:
        return int(await self._client.publish(self._channel, message))

    def _hold(self, message: bytes) -> None:
        if len(self._held) == self._held.maxlen:
            self.dropped_total += 1
        self._held.append(message)
        self.held_total += 1
        self._wake.set()
        self._spawn("sender", self._resend)

    async def _send_held(self) -> bool:
        """Send what is held, oldest first; return whether nothing is held any more."""
        while self._held:
            try:
                await self._send(self._held[0])
            except DependencyUnavailable:
                return False
            self._held.popleft()
        return True

    async def _resend(self) -> None:
        """The one sender of held events: it tries again after a backoff, or at once when
        woken (a new event is held, or the subscription is back)."""
        backoff = 0.05
        self._wake.clear()
        while not await self._send_held():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)
            self._wake.clear()
            backoff = min(backoff * 2, 1.0)
        log.warning(
            "event bus publishes to redis again; %d events held so far, %d dropped",
            self.held_total,
            self.dropped_total,
        )

    def _spawn(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.create_task(work(), name=f"redis-event-bus-{name}")

    async def start(self) -> None:
        """Start listening (in the background); returns at once."""
        self._spawn("listener", self._listen)

    async def stop(self) -> None:
        """Stop listening (and stop sending held events: they are notifications only)."""
        for task in self._tasks.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _listen(self) -> None:
        backoff, lost = 0.1, False
        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.connected.set()
                    self._wake.set()
                    if lost:
                        self._spawn("settle", self._settle)
                    else:
                        await self._tell_link_up(after_loss=False)
                    backoff = 0.1
                    await self._pump(pubsub)
            except (RedisError, OSError) as exc:
                if self.connected.is_set() or not lost:
                    self._link_down()
                    log.warning("event bus lost its redis subscription (%s); reconnecting", exc)
                lost = True
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    async def _settle(self) -> None:
        await asyncio.sleep(self._settle_seconds)
        await self._tell_link_up(after_loss=True)
        log.warning("event bus subscribed to redis again")

    async def _tell_link_up(self, *, after_loss: bool) -> None:
        for watcher in self._watchers:
            try:
                await watcher.link_up(after_loss)  # e.g. a cache flush, before it is trusted
            except Exception:  # the watcher stays distrustful; the bus still delivers events
                log.exception("%s could not recover from the outage", type(watcher).__name__)

    def _link_down(self) -> None:
        self.connected.clear()
        settling = self._tasks.pop("settle", None)
        if settling is not None:
            settling.cancel()
        for watcher in self._watchers:
            watcher.link_down()

    async def _pump(self, pubsub: object) -> None:
        async for message in pubsub.listen():  # type: ignore[attr-defined]
            parts = message["data"].split(_SEP, 3)
            if parts[0] == _ACK and len(parts) == 3:
                if parts[1] == self._origin:
                    self._confirmations.acknowledged(parts[2])
            elif parts[0] == _EVENT and len(parts) == 4:
                if parts[1] != self._origin:  # this process's own were delivered on publish
                    await self._receive(parts[1], parts[2], parts[3])
            else:
                log.warning("ignoring a malformed event-bus message")

    async def _receive(self, origin: bytes, message_id: bytes, body: bytes) -> None:
        try:
            event = decode_event(body)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed event message")
            return
        await deliver(event, self._subscribers)
        if isinstance(event, self._confirm):
            with contextlib.suppress(DependencyUnavailable):  # the publisher stops waiting
                await self._send(_SEP.join((_ACK, origin, message_id)))
