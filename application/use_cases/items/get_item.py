"""Read one item, through the item cache."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, ItemView
from application.errors import ItemNotFound
from application.ports.cache import ItemCache
from application.ports.types import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class GetItem:
    """Show me this item."""

    actor: Actor
    item_id: UUID


class GetItemHandler:
    """Returns the item if the caller owns it or is a superuser; else ItemNotFound.

    A cached copy is checked against the caller exactly as a stored one is; a miss reads the
    database and fills the cache.
    """

    def __init__(self, uow: UnitOfWorkFactory, cache: ItemCache) -> None:
        self._uow, self._cache = uow, cache

    async def __call__(self, cmd: GetItem) -> ItemView:
        view = await self._cache.get(cmd.item_id)
        if view is None:
            async with self._uow() as uow:
                item = await uow.items.get(cmd.item_id)
            if item is None:
                raise ItemNotFound("item not found")
            view = ItemView.of(item)
            await self._cache.put(view)
        if not cmd.actor.may_access(view.owner_id):
            raise ItemNotFound("item not found")
        return view
