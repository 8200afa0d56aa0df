"""Read one item."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, ItemView, item_view
from application.ports.types import UnitOfWorkFactory
from application.use_cases.items.access import load_item_for


@dataclass(frozen=True, slots=True)
class GetItem:
    """Show me this item."""

    actor: Actor
    item_id: UUID


class GetItemHandler:
    """Returns the item if the caller owns it or is a superuser; else ItemNotFound."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: GetItem) -> ItemView:
        async with self._uow() as uow:
            return item_view(await load_item_for(uow, cmd.actor, cmd.item_id))
