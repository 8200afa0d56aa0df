"""List the caller's own items, a page at a time."""

from dataclasses import dataclass

from application.dto import Actor, ItemView, Page
from application.paging import DEFAULT_PAGE, check_page
from application.ports.types import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ListItems:
    """Show me my items `skip` .. `skip + limit`, oldest first."""

    actor: Actor
    skip: int = 0
    limit: int = DEFAULT_PAGE

    def __post_init__(self) -> None:
        check_page(self.skip, self.limit)


class ListItemsHandler:
    """A page of the caller's own items with the total count (superusers too list their own)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: ListItems) -> Page[ItemView]:
        owner = cmd.actor.user_id
        async with self._uow() as uow:
            items, total = await uow.items.list_for_owner_with_total(
                owner, skip=cmd.skip, limit=cmd.limit
            )
        return Page([ItemView.of(item) for item in items], total)
