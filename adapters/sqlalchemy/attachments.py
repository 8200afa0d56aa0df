"""The SQL attachment repository: the `attachments` table, one list of its columns, one pair of
functions between a row and an Attachment."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, func, insert, select

from adapters.sqlalchemy.tables import attachments
from adapters.sqlalchemy.transaction import Transaction
from domain.attachments import Attachment

EXISTING_BATCH = 500
"""At most this many ids in one `IN (...)`: every dialect takes that many bound values."""

# An attachment's columns, once, in the order of Attachment's fields: a row maps to an
# Attachment by position (`_attachment`), an Attachment to its row by name (`_attachment_row`).
_COLUMNS = (
    attachments.c.id,
    attachments.c.item_id,
    attachments.c.owner_id,
    attachments.c.filename,
    attachments.c.content_type,
    attachments.c.size,
    attachments.c.sha256,
    attachments.c.created_at,
)
_NAMES = tuple(column.key for column in _COLUMNS)
_OLDEST_FIRST = (attachments.c.created_at, attachments.c.id)
_BY_ID = select(*_COLUMNS).where(
    attachments.c.id == bindparam("id"), attachments.c.item_id == bindparam("item_id")
)
_OF_ITEM = (
    select(*_COLUMNS).where(attachments.c.item_id == bindparam("item_id")).order_by(*_OLDEST_FIRST)
)
_OF_ITEMS = select(*_COLUMNS).where(attachments.c.item_id.in_(bindparam("ids", expanding=True)))
_COUNT_OF_ITEM = (
    select(func.count()).select_from(attachments).where(attachments.c.item_id == bindparam("id"))
)
_EXISTING = select(attachments.c.id).where(attachments.c.id.in_(bindparam("ids", expanding=True)))
_INSERT = insert(attachments)
_DELETE = delete(attachments).where(attachments.c.id == bindparam("id"))


def _attachment(row: Sequence[Any]) -> Attachment:
    return Attachment(*row)


def _attachment_row(attachment: Attachment) -> dict[str, Any]:
    return {name: getattr(attachment, name) for name in _NAMES}


def _batches(ids: Collection[UUID]) -> list[list[UUID]]:
    unique = list(dict.fromkeys(ids))
    return [unique[at : at + EXISTING_BATCH] for at in range(0, len(unique), EXISTING_BATCH)]


class SqlAlchemyAttachmentRepository:
    """AttachmentRepository over the `attachments` table (indexed by item, oldest first).

    Adding a record of an item that is gone is refused by the foreign key (Conflict); deleting
    an item deletes its records by ON DELETE CASCADE.
    """

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, attachment: Attachment) -> None:
        await self._tx.write(_INSERT, _attachment_row(attachment))

    async def get(self, item_id: UUID, attachment_id: UUID) -> Attachment | None:
        params = {"id": attachment_id, "item_id": item_id}
        row = (await self._tx.read(_BY_ID, params)).first()
        return None if row is None else _attachment(row)

    async def list_for_item(self, item_id: UUID) -> list[Attachment]:
        result = await self._tx.read(_OF_ITEM, {"item_id": item_id})
        return [_attachment(row) for row in result]

    async def list_for_items(self, item_ids: Collection[UUID]) -> list[Attachment]:
        found: list[Attachment] = []
        for batch in _batches(item_ids):
            result = await self._tx.read(_OF_ITEMS, {"ids": batch})
            found.extend(_attachment(row) for row in result)
        return sorted(found, key=lambda attachment: (attachment.created_at, attachment.id))

    async def count_for_item(self, item_id: UUID) -> int:
        return int((await self._tx.read(_COUNT_OF_ITEM, {"id": item_id})).scalar_one())

    async def existing(self, attachment_ids: Collection[UUID]) -> set[UUID]:
        found: set[UUID] = set()
        for batch in _batches(attachment_ids):
            found.update(row[0] for row in await self._tx.read(_EXISTING, {"ids": batch}))
        return found

    async def delete(self, attachment: Attachment) -> None:
        await self._tx.write(_DELETE, {"id": attachment.id})
