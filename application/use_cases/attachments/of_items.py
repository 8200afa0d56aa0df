"""What happens to attachments when their items go: their records go in the same transaction."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from uuid import UUID

from application.ports.unit_of_work import UnitOfWork


async def delete_attachments_of(uow: UnitOfWork, item_ids: Collection[UUID], now: datetime) -> int:
    """Stage the deletion of every attachment of these items, each recording AttachmentDeleted
    (so that, once committed, a job removes its bytes). Returns how many there were."""
    doomed = await uow.attachments.list_for_items(item_ids) if item_ids else []
    for attachment in doomed:
        attachment.delete(now=now)
        await uow.attachments.delete(uow.track(attachment))
    return len(doomed)
