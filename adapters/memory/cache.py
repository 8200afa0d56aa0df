"""The item cache: one process's bounded dict, kept exact by the events it is handed."""

from __future__ import annotations

from collections import OrderedDict
from uuid import UUID

from application.dto import ItemView
from application.ports.clock import Clock

_FORGOTTEN = None
DEFAULT_MAX_ENTRIES = 50_000


class InMemoryItemCache:
    """ItemCache in an LRU dict; entries expire after `ttl_seconds` by the given clock.

    At most `max_entries` items (and deletion marks) are held; the least recently used go
    first. It is also a LinkWatcher: while the event bus cannot hear other processes' changes
    the cache answers nothing and keeps nothing, and it starts empty when they flow again.
    """

    def __init__(
        self, clock: Clock, ttl_seconds: int, max_entries: int = DEFAULT_MAX_ENTRIES
    ) -> None:
        self._clock, self._ttl, self._max = clock, ttl_seconds, max_entries
        self._entries: OrderedDict[UUID, tuple[float, ItemView | None]] = OrderedDict()
        self._trusted = True
        self.hits = self.misses = 0

    def _live(self, item_id: UUID) -> tuple[float, ItemView | None] | None:
        entry = self._entries.get(item_id)
        if entry is None:
            return None
        if entry[0] <= self._clock.now().timestamp():
            del self._entries[item_id]
            return None
        self._entries.move_to_end(item_id)
        return entry

    def _store(self, item_id: UUID, view: ItemView | None) -> None:
        if not self._trusted:
            return
        self._entries[item_id] = (self._clock.now().timestamp() + self._ttl, view)
        self._entries.move_to_end(item_id)
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

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
        self._store(item.id, item)

    async def forget(self, item_id: UUID) -> None:
        self._store(item_id, _FORGOTTEN)

    def link_down(self) -> None:
        """Other processes' changes may be missed from now on: hold and answer nothing."""
        self._trusted = False
        self._entries.clear()

    async def link_up(self, after_loss: bool) -> None:
        """Changes flow again: start trusting, from empty."""
        self._entries.clear()
        self._trusted = True
