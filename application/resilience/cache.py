"""Keeping this process's item cache in step with committed changes, wherever made."""

from __future__ import annotations

from application.dto import ItemView
from application.ports.cache import ItemCache
from domain.events import DomainEvent, ItemDeleted, ItemEvent


class CacheUpdater:
    """Writes each committed item change through to the cache (idempotent, version-guarded).

    An event-bus subscriber: this process's own changes reach it after commit and before the
    write returns, so a read that follows a write here never sees the older version; every
    other process's changes as soon as they are heard. Each change is turned into the read
    model here, once, so that a read served from the cache converts nothing.
    """

    def __init__(self, cache: ItemCache) -> None:
        self._cache = cache

    async def apply(self, event: DomainEvent) -> None:
        """Event-bus subscriber: write an item change through (other events are ignored)."""
        if isinstance(event, ItemDeleted):
            await self._cache.forget(event.item.id)
        elif isinstance(event, ItemEvent):
            await self._cache.put(ItemView.of(event.item))
