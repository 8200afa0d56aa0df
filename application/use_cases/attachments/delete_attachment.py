"""Delete an attachment: its record now, its bytes by a job."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.use_cases.attachments.access import load_attachment_for


@dataclass(frozen=True, slots=True)
class DeleteAttachment:
    """Remove this attachment from this item."""

    actor: Actor
    item_id: UUID
    attachment_id: UUID


class DeleteAttachmentHandler:
    """Deletes the record of an attachment of an item the caller may reach (ItemNotFound or
    AttachmentNotFound otherwise). The deletion records AttachmentDeleted, so the job that
    removes the bytes (`blobs.remove`) is written in the same transaction."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: DeleteAttachment) -> None:
        async with self._uow() as uow:
            attachment = await load_attachment_for(uow, cmd.actor, cmd.item_id, cmd.attachment_id)
            attachment.delete(now=self._clock.now())
            await uow.attachments.delete(attachment)
            await uow.commit()
