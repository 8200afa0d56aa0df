"""Reaching an attachment: through its item, so item access decides attachment access."""

from __future__ import annotations

from uuid import UUID

from application.dto import Actor
from application.errors import AttachmentNotFound
from application.ports.unit_of_work import UnitOfWork
from application.services.item_access import load_item_for
from domain.attachments import Attachment


async def load_attachment_for(
    uow: UnitOfWork, actor: Actor, item_id: UUID, attachment_id: UUID
) -> Attachment:
    """Return the item's attachment if the actor may reach the item.

    Raises ItemNotFound when the item is missing or not the actor's (as if it did not exist),
    AttachmentNotFound when the item has no attachment with that id.
    """
    await load_item_for(uow, actor, item_id)
    attachment = await uow.attachments.get(item_id, attachment_id)
    if attachment is None:
        raise AttachmentNotFound("attachment not found")
    return uow.track(attachment)
