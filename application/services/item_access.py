"""The one rule of item access: owners reach their items, superusers reach every item."""

from uuid import UUID

from application.dto import Actor
from application.errors import ItemNotFound
from application.ports.unit_of_work import UnitOfWork
from domain.items import Item


async def load_item_for(
    uow: UnitOfWork, actor: Actor, item_id: UUID, *, for_update: bool = False
) -> Item:
    """Return the item if the actor may reach it; otherwise ItemNotFound, as if it did not exist.

    `for_update` holds the item against concurrent changes until the unit of work ends.
    """
    read = uow.items.get_for_update if for_update else uow.items.get
    item = await read(item_id)
    if item is None or not actor.may_access(item.owner_id):
        raise ItemNotFound("item not found")
    return uow.track(item)
