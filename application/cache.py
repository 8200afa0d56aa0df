"""Keeping the item cache in step with committed changes, and reading through it."""

from __future__ import annotations

import logging
from uuid import UUID

from application.dto import ItemView
from application.errors import DependencyUnavailable
from application.ports.cache import ItemCache
from application.ports.events import EventPublisher
from domain.events import DomainEvent, ItemDeleted, ItemEvent

log = logging.getLogger(__name__)


class CacheUpdater:
    """An EventPublisher that writes each committed change through to the cache.

    It runs after commit and before the write returns, so a read that follows a write
    never sees the older version while the cache is reachable.
    """

    def __init__(self, cache: ItemCache) -> None:
        self._cache = cache

    async def publish(self, event: DomainEvent) -> None:
        if not isinstance(event, ItemEvent):
            return
        if isinstance(event, ItemDeleted):
            await self._cache.forget(event.item.id)
        else:
            await self._cache.put(event.item)


class FanOutPublisher:
    """Hands each event to several publishers in order; one failing does not stop the rest."""

    def __init__(self, *publishers: EventPublisher) -> None:
        self._publishers = publishers

    async def publish(self, event: DomainEvent) -> None:
        for publisher in self._publishers:
            try:
                await publisher.publish(event)
            except Exception:  # the change is committed; later publishers still deserve it
                log.exception("publisher %s failed on %s", type(publisher).__name__, event.name)


class CachedItemReader:
    """Read-through access to the cache that degrades to the database when the cache is down."""

    def __init__(self, cache: ItemCache) -> None:
        self._cache = cache

    async def get(self, item_id: UUID) -> ItemView | None:
        """Return the cached item, or None on a miss or when the cache is unreachable."""
        try:
            return await self._cache.get(item_id)
        except DependencyUnavailable:
            log.warning("item cache unavailable; reading item %s from the database", item_id)
            return None

    async def fill(self, item: ItemView) -> None:
        """Cache an item read from the database; a cache failure is only logged."""
        try:
            await self._cache.put(item)
        except DependencyUnavailable:
            log.warning("item cache unavailable; item %s not cached", item.id)
