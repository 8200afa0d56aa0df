"""Keeping this process's item cache in step with committed changes, wherever made."""

from __future__ import annotations

from application.delivery import deliver
from application.ports.cache import ItemCache
from application.ports.events import EventPublisher
from domain.events import DomainEvent, ItemDeleted, ItemEvent


class CacheUpdater:
    """Writes each committed item change through to the cache (idempotent, version-guarded).

    As the first publisher of this process it runs after commit and before the write returns,
    so a read that follows a write here never sees the older version; as an event-bus
    subscriber it applies the changes of every other process as soon as they are heard.
    """

    def __init__(self, cache: ItemCache) -> None:
        self._cache = cache

    async def publish(self, event: DomainEvent) -> None:
        if isinstance(event, ItemDeleted):
            await self._cache.forget(event.item.id)
        elif isinstance(event, ItemEvent):
            await self._cache.put(event.item)


class FanOutPublisher:
    """Hands each event to several publishers in order; one failing does not stop the rest."""

    def __init__(self, *publishers: EventPublisher) -> None:
        self._publishers = publishers

    async def publish(self, event: DomainEvent) -> None:
        # The change is committed: a later publisher deserves the event whatever came before.
        await deliver(event, (publisher.publish for publisher in self._publishers))
