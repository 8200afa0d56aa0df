"""Keeping the item cache in step with committed changes, and reading through it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from uuid import UUID

from application.delivery import deliver
from application.dto import ItemView
from application.errors import DependencyUnavailable
from application.ports.cache import ItemCache
from application.ports.events import EventPublisher
from domain.events import DomainEvent, ItemDeleted, ItemEvent

log = logging.getLogger(__name__)


async def _write_through(cache: ItemCache, event: ItemEvent) -> None:
    if isinstance(event, ItemDeleted):
        await cache.forget(event.item.id)
    else:
        await cache.put(event.item)


class CacheRepairs:
    """Write-throughs that failed, retried in the background until they land.

    Until then this process reads those items from the database, and the older copy the
    cache may still hold is replaced (or forgotten) as soon as the cache answers again.
    """

    def __init__(self, cache: ItemCache, retry_seconds: float = 0.5) -> None:
        self._cache, self._retry_seconds = cache, retry_seconds
        self._owed: dict[UUID, ItemEvent] = {}
        self._task: asyncio.Task[None] | None = None

    def owes(self, item_id: UUID) -> bool:
        """Whether the cache may hold an outdated copy of the item."""
        return item_id in self._owed

    def add(self, event: ItemEvent) -> None:
        """Owe the cache this change (the latest change of an item wins)."""
        self._owed[event.item.id] = event
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._retry(), name="item-cache-repairs")

    async def _retry(self) -> None:
        while self._owed:
            await asyncio.sleep(self._retry_seconds)
            for item_id, event in list(self._owed.items()):
                try:
                    await _write_through(self._cache, event)
                except DependencyUnavailable:
                    break  # still unreachable: wait and try again
                if self._owed.get(item_id) is event:
                    del self._owed[item_id]

    async def close(self) -> None:
        """Stop retrying (at shutdown); entries expire from the cache by their TTL."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class CacheUpdater:
    """An EventPublisher that writes each committed change through to the cache.

    It runs after commit and before the write returns, so a read that follows a write
    never sees the older version while the cache is reachable; a write-through that fails
    is owed to the cache (CacheRepairs) rather than left to the entry's TTL.
    """

    def __init__(self, cache: ItemCache, repairs: CacheRepairs) -> None:
        self._cache, self._repairs = cache, repairs

    async def publish(self, event: DomainEvent) -> None:
        if not isinstance(event, ItemEvent):
            return
        try:
            await _write_through(self._cache, event)
        except DependencyUnavailable:
            log.warning("item cache unavailable; owing it item %s", event.item.id)
            self._repairs.add(event)


class FanOutPublisher:
    """Hands each event to several publishers in order; one failing does not stop the rest."""

    def __init__(self, *publishers: EventPublisher) -> None:
        self._publishers = publishers

    async def publish(self, event: DomainEvent) -> None:
        # The change is committed: a later publisher deserves the event whatever came before.
        await deliver(event, (publisher.publish for publisher in self._publishers))


class CachedItemReader:
    """Read-through access to the cache that degrades to the database when the cache is down
    (or may hold an outdated copy of the item: see CacheRepairs)."""

    def __init__(self, cache: ItemCache, repairs: CacheRepairs) -> None:
        self._cache, self._repairs = cache, repairs

    async def get(self, item_id: UUID) -> ItemView | None:
        """Return the cached item, or None on a miss or when the cache is unreachable."""
        if self._repairs.owes(item_id):
            return None
        try:
            return await self._cache.get(item_id)
        except DependencyUnavailable:
            log.warning("item cache unavailable; reading item %s from the database", item_id)
            return None

    async def fill(self, item: ItemView) -> None:
        """Cache an item read from the database; a cache failure is only logged."""
        if self._repairs.owes(item.id):
            return
        try:
            await self._cache.put(item)
        except DependencyUnavailable:
            log.warning("item cache unavailable; item %s not cached", item.id)
