"""In-memory attachment records: a transaction's staged changes over the committed ones."""

from __future__ import annotations

from collections.abc import Callable, Collection
from uuid import UUID

from adapters.memory.repositories import _Staged
from application.errors import Conflict
from domain.attachments import Attachment


class InMemoryAttachmentRepository:
    """AttachmentRepository over a dict. `item_exists` stands in for the SQL foreign key: a
    record of a missing item cannot be added, and one whose item is gone is not seen (the
    SQL cascade deletes it with the item)."""

    def __init__(self, rows: _Staged[Attachment], item_exists: Callable[[UUID], bool]) -> None:
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
