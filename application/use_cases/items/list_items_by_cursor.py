"""List the caller's own items by keyset (API v2): every page costs the same."""

from dataclasses import dataclass

from application.cursors import CursorCodec
from application.dto import Actor, CursorPage, ItemView
from application.paging import DEFAULT_PAGE, check_page
from application.ports.types import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class ListItemsByCursor:
    """Show me up to `limit` of my items after `cursor` (None: from the start)."""

    actor: Actor
    cursor: str | None = None
    limit: int = DEFAULT_PAGE

    def __post_init__(self) -> None:
        check_page(0, self.limit)


class ListItemsByCursorHandler:
    """Pages by id; a cursor is bound to its owner, so a tampered or foreign one is refused."""

    def __init__(self, uow: UnitOfWorkFactory, cursors: CursorCodec) -> None:
        self._uow, self._cursors = uow, cursors

    async def __call__(self, cmd: ListItemsByCursor) -> CursorPage[ItemView]:
        owner = cmd.actor.user_id
        after = None if cmd.cursor is None else self._cursors.decode(cmd.cursor, owner)
        async with self._uow() as uow:
            items = await uow.items.list_for_owner_after(owner, after=after, limit=cmd.limit + 1)
        page, more = items[: cmd.limit], len(items) > cmd.limit
        next_cursor = self._cursors.encode(page[-1].id, owner) if more else None
        return CursorPage([ItemView.of(item) for item in page], next_cursor)
