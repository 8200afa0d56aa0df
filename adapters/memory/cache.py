"""The in-memory item cache: one process's dict, with expiry and hit/miss counts."""

from __future__ import annotations

from uuid import UUID

from application.dto import ItemView
from application.ports.clock import Clock

_FORGOTTEN = None


class InMemoryItemCache:
    """ItemCache in a dict; entries expire after `ttl_seconds` by the given clock."""

    def __init__(self, clock: Clock, ttl_seconds: int) -> None:
        self._clock, self._ttl = clock, ttl_seconds
        self._entries: dict[UUID, tuple[float, ItemView | None]] = {}
        self.hits = self.misses = 0

    def _live(self, item_id: UUID) -> tuple[float, ItemView | None] | None:
        entry = self._entries.get(item_id)
        if entry is not None and entry[0] <= self._clock.now().timestamp():
            del self._entries[item_id]
            return None
        return entry

    async def get(self, item_id: UUID) -> ItemView | None:
        entry = self._live(item_id)
        view = None if entry is None else entry[1]
        if view is None:
            self.misses += 1
        else:
            self.hits += 1
        return view

    async def put(self, item: ItemView) -> None:
        entry = self._live(item.id)
        if entry is not None and (entry[1] is _FORGOTTEN or entry[1].version >= item.version):
            return
        self._entries[item.id] = (self._clock.now().timestamp() + self._ttl, item)

    async def forget(self, item_id: UUID) -> None:
        self._entries[item_id] = (self._clock.now().timestamp() + self._ttl, _FORGOTTEN)
