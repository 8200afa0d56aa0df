"""Change an item's title and/or description, optionally only at an expected version."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, ItemView, item_view
from application.errors import PreconditionFailed
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.use_cases.items.access import load_item_for
from domain.errors import StaleVersion
from domain.items import UNSET, Unset


@dataclass(frozen=True, slots=True)
class UpdateItem:
    """Change what is given; `description=None` clears it; UNSET leaves a field alone."""

    actor: Actor
    item_id: UUID
    title: str | Unset = UNSET
    description: str | Unset | None = UNSET
    expected_version: int | None = None


ATTEMPTS = 3


class UpdateItemHandler:
    """Applies the change if the caller may reach the item and the version still matches.

    With an expected version, a concurrent change is a PreconditionFailed (412). Without
    one the caller asked for no such check, so the change is simply applied again to the
    newer version (a few times at most); an item deleted meanwhile is ItemNotFound.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: UpdateItem) -> ItemView:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await self._apply(cmd)
            except PreconditionFailed:
                if cmd.expected_version is not None or attempt == ATTEMPTS:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _apply(self, cmd: UpdateItem) -> ItemView:
        async with self._uow() as uow:
            item = await load_item_for(uow, cmd.actor, cmd.item_id)
            try:
                item.update(
                    title=cmd.title,
                    description=cmd.description,
                    expected_version=cmd.expected_version,
                    now=self._clock.now(),
                )
            except StaleVersion as exc:
                raise PreconditionFailed(str(exc)) from exc
            if item.events:
                await uow.items.save(item)
                await uow.commit()
        return item_view(item)
