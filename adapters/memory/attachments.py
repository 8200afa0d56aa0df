"""In-memory attachment records: a transaction's staged changes over the committed ones."""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from uuid import UUID

from application.errors import Conflict
from domain.attachments import Attachment


class StagedAttachments:
    """Records changed in a transaction (None: deleted), over the committed ones."""

    def __init__(self, committed: dict[UUID, Attachment]) -> None:
        self.committed = committed
        self.changes: dict[UUID, Attachment | None] = {}

    def get(self, key: UUID) -> Attachment | None:
        row = self.changes[key] if key in self.changes else self.committed.get(key)
        return None if row is None else _copy(row)

    def put(self, row: Attachment) -> None:
        self.changes[row.id] = _copy(row)

    def remove(self, key: UUID) -> None:
        self.changes[key] = None

    def rows(self) -> list[Attachment]:
        keys = {**dict.fromkeys(self.committed), **dict.fromkeys(self.changes)}
        found = (self.get(key) for key in keys)
        return sorted((row for row in found if row is not None), key=lambda a: (a.created_at, a.id))

    def apply(self) -> None:
        for key, row in self.changes.items():
            if row is None:
                self.committed.pop(key, None)
            else:
                self.committed[key] = row
        self.changes.clear()

    def discard(self) -> None:
        self.changes.clear()


def _copy(row: Attachment) -> Attachment:
    clone = copy.copy(row)
    clone.events = []  # a copy records its own events
    return clone


class InMemoryAttachmentRepository:
    """AttachmentRepository over a dict. `item_exists` stands in for the SQL foreign key: a
    record of a missing item cannot be added, and one whose item is gone is not seen (the
    SQL cascade deletes it with the item)."""

    def __init__(self, rows: StagedAttachments, item_exists: Callable[[UUID], bool]) -> None:
        self._rows, self._item_exists = rows, item_exists

    async def add(self, attachment: Attachment) -> None:
        if not self._item_exists(attachment.item_id):
            raise Conflict("the change conflicts with stored data")
        self._rows.put(attachment)

    async def get(self, item_id: UUID, attachment_id: UUID) -> Attachment | None:
        row = self._rows.get(attachment_id)
        return row if row is not None and row.item_id == item_id and self._live(row) else None

    async def list_for_item(self, item_id: UUID) -> list[Attachment]:
        return await self.list_for_items((item_id,))

    async def list_for_items(self, item_ids: Collection[UUID]) -> list[Attachment]:
        wanted = set(item_ids)
        return [row for row in self._rows.rows() if row.item_id in wanted and self._live(row)]

    async def count_for_item(self, item_id: UUID) -> int:
        return len(await self.list_for_item(item_id))

    async def existing(self, attachment_ids: Collection[UUID]) -> set[UUID]:
        found = (self._rows.get(attachment_id) for attachment_id in set(attachment_ids))
        return {row.id for row in found if row is not None and self._live(row)}

    async def delete(self, attachment: Attachment) -> None:
        self._rows.remove(attachment.id)

    def _live(self, row: Attachment) -> bool:
        return self._item_exists(row.item_id)
