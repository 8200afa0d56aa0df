"""Delete an item."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.services.item_access import load_item_for


@dataclass(frozen=True, slots=True)
class DeleteItem:
    """Remove this item."""

    actor: Actor
    item_id: UUID


class DeleteItemHandler:
    """Deletes the item if the caller may reach it; announces the deletion after commit."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: DeleteItem) -> None:
        async with self._uow() as uow:
            item = await load_item_for(uow, cmd.actor, cmd.item_id)
            item.delete(now=self._clock.now())
            await uow.items.delete(item)
            await uow.commit()
