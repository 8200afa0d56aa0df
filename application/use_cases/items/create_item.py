"""Create an item owned by the caller."""

from dataclasses import dataclass

from application.dto import Actor, ItemView
from application.idempotency import IdempotencyKey, Idempotent, user_scope
from application.ports import Clock, UnitOfWork
from application.ports.types import UnitOfWorkFactory
from domain.ids import new_id
from domain.items import Item


@dataclass(frozen=True, slots=True)
class CreateItem:
    """Add an item with this title and optional description (once per idempotency key)."""

    actor: Actor
    title: str
    description: str | None = None
    idempotency_key: IdempotencyKey | None = None


class CreateItemHandler:
    """Creates version 1 of an item owned by the caller; announces it after commit.

    A retry with the caller's idempotency key gets the first item again, not a second one.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock
        self._once = Idempotent(ItemView, clock)

    async def __call__(self, cmd: CreateItem) -> ItemView:
        now = self._clock.now()
        item = Item.create(
            item_id=new_id(now),
            owner_id=cmd.actor.user_id,
            title=cmd.title,
            description=cmd.description,
            now=now,
        )
        scope = user_scope(cmd.actor.user_id)
        async with self._uow() as uow:
            view = await self._once(uow, scope, cmd.idempotency_key, lambda: _add(uow, item))
            await uow.commit()
        return view


async def _add(uow: UnitOfWork, item: Item) -> ItemView:
    await uow.items.add(uow.track(item))
    return ItemView.of(item)
