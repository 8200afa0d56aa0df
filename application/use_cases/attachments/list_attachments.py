"""List an item's attachments."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, AttachmentView
from application.ports.types import UnitOfWorkFactory
from application.services.item_access import load_item_for


@dataclass(frozen=True, slots=True)
class ListAttachments:
    """Show me the attachments of this item."""

    actor: Actor
    item_id: UUID


class ListAttachmentsHandler:
    """Every attachment of an item the caller may reach, oldest first (an item has at most
    MAX_ATTACHMENTS_PER_ITEM, so the list is bounded); else ItemNotFound."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: ListAttachments) -> list[AttachmentView]:
        async with self._uow() as uow:
            item = await load_item_for(uow, cmd.actor, cmd.item_id)
            attachments = await uow.attachments.list_for_item(item.id)
        return [AttachmentView.of(attachment) for attachment in attachments]
