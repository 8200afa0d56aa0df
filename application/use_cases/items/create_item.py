"""Create an item owned by the caller."""

from dataclasses import dataclass

from application.dto import Actor, ItemView, item_view
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from domain.ids import new_id
from domain.items import Item


@dataclass(frozen=True, slots=True)
class CreateItem:
    """Add an item with this title and optional description."""

    actor: Actor
    title: str
    description: str | None = None


class CreateItemHandler:
    """Creates version 1 of an item owned by the caller; announces it after commit."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: CreateItem) -> ItemView:
        now = self._clock.now()
        item = Item.create(
            item_id=new_id(now),
            owner_id=cmd.actor.user_id,
            title=cmd.title,
            description=cmd.description,
            now=now,
        )
        async with self._uow() as uow:
            await uow.items.add(uow.track(item))
            await uow.commit()
        return item_view(item)
