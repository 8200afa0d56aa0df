"""Read an attachment's metadata (what a download's headers and conditions need)."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, AttachmentView
from application.ports.types import UnitOfWorkFactory
from application.use_cases.attachments.access import load_attachment_for


@dataclass(frozen=True, slots=True)
class GetAttachment:
    """Show me this attachment's record."""

    actor: Actor
    item_id: UUID
    attachment_id: UUID


class GetAttachmentHandler:
    """The attachment of an item the caller may reach; ItemNotFound or AttachmentNotFound."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: GetAttachment) -> AttachmentView:
        async with self._uow() as uow:
            attachment = await load_attachment_for(uow, cmd.actor, cmd.item_id, cmd.attachment_id)
        return AttachmentView.of(attachment)
