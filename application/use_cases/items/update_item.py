"""Change an item's title and/or description, optionally only at an expected version."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, ItemView
from application.errors import PreconditionFailed
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.services.item_access import load_item_for
from domain.errors import StaleVersion
from domain.items import UNSET, Unset


@dataclass(frozen=True, slots=True)
class UpdateItem:
    """Change what is given; `description=None` clears it; UNSET leaves a field alone."""

    actor: Actor
    item_id: UUID
    title: str | Unset = UNSET
    description: str | Unset | None = UNSET
    expected_versions: frozenset[int] | None = None


class UpdateItemHandler:
    """Applies the change to the current version, read and held until the change is committed.

    Concurrent changes of one item therefore take turns: without an expected version every
    one of them lands; with one, only the change made at that version does, and the others
    get PreconditionFailed (412). An item deleted meanwhile is ItemNotFound.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: UpdateItem) -> ItemView:
        async with self._uow() as uow:
            item = await load_item_for(uow, cmd.actor, cmd.item_id, for_update=True)
            try:
                item.update(
                    title=cmd.title,
                    description=cmd.description,
                    expected_versions=cmd.expected_versions,
                    now=self._clock.now(),
                )
            except StaleVersion as exc:
                raise PreconditionFailed(str(exc)) from exc
            if item.events:
                await uow.items.save(item)
                await uow.commit()
        return ItemView.of(item)
