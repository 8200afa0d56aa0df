"""The in-memory item export: the committed items of an owner, encoded a batch at a time."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from adapters.memory.store import MemoryStore
from application.dto import ItemView
from application.export_format import ExportFormat, encode, header

BATCH = 100  # rows: a chunk holds at most ~4 MB (100 descriptions of 10,000 characters)


class InMemoryItemExport:
    """ItemExport over a MemoryStore, by the reference encoder.

    The snapshot is the owner's committed items when the first chunk is asked for, taken
    between two transactions (under the store's lock); committed rows are never changed in
    place, so later commits do not reach it. It holds a reference per item: this adapter is
    for tests and single-process development, not for large stores.
    """

    def __init__(self, store: MemoryStore, batch: int = BATCH) -> None:
        self._store, self._batch = store, batch

    async def stream(self, owner_id: UUID, fmt: ExportFormat) -> AsyncGenerator[bytes, None]:
        async with self._store.lock:
            owned = [item for item in self._store.items.values() if item.owner_id == owner_id]
        owned.sort(key=lambda item: (item.created_at, item.id))
        first = header(fmt)
        for start in range(0, len(owned), self._batch):
            views = (ItemView.of(item) for item in owned[start : start + self._batch])
            yield first + encode(views, fmt)
            first = b""
        if first:
            yield first
