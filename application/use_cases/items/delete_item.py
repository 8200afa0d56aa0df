"""Delete an item."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.errors import PreconditionFailed
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.services.item_access import load_item_for
from application.use_cases.attachments.of_items import delete_attachments_of
from domain.errors import StaleVersion


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Remove this item (only at one of `expected_versions`, when given: an `If-Match`)."""

    actor: Actor
    item_id: UUID
    expected_versions: frozenset[int] | None = None


class DeleteItemHandler:
    """Deletes the item, with its attachments, if the caller may reach it; announces the
    deletion after commit. Each attachment records AttachmentDeleted, so the jobs that remove
    their bytes are written in the same transaction. The item is held meanwhile, so an upload
    to it either lands before (and is deleted with it) or finds it gone."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: DeleteItem) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            item = await load_item_for(uow, cmd.actor, cmd.item_id, for_update=True)
            try:
                item.require_version(cmd.expected_versions)
            except StaleVersion as exc:
                raise PreconditionFailed(str(exc)) from exc
            await delete_attachments_of(uow, [item.id], now)
            item.delete(now=now)
            await uow.items.delete(item)
            await uow.commit()
