"""The one rule of item access: owners reach their items, superusers reach every item."""

from uuid import UUID

from application.dto import Actor
from application.errors import ItemNotFound
from application.ports.unit_of_work import UnitOfWork
from domain.items import Item


async def load_item_for(uow: UnitOfWork, actor: Actor, item_id: UUID) -> Item:
    """Return the item if the actor may reach it; otherwise ItemNotFound, as if it did not exist."""
    item = await uow.items.get(item_id)
    if item is None or not actor.may_access(item.owner_id):
        raise ItemNotFound("item not found")
    return uow.track(item)
