"""The item read cache port."""

from typing import Protocol
from uuid import UUID

from application.dto import ItemView


class ItemCache(Protocol):
    """Recently read or written items, by id, in this process. Holds each item's read model,
    exactly what a read hands out, so a hit costs no conversion; access is checked by the
    caller against `owner_id` on every read, so one user's entry can never serve another.

    Writes are version-guarded, so an older copy never replaces a newer one whatever order
    readers and writers finish in; a forgotten (deleted) item stays forgotten until expiry.
    Nothing here does I/O, so nothing raises.
    """

    async def get(self, item_id: UUID) -> ItemView | None:
        """Return the cached item, or None."""
        ...

    async def put(self, item: ItemView) -> None:
        """Cache the item unless a newer version (or a deletion) is cached."""
        ...

    async def forget(self, item_id: UUID) -> None:
        """Mark the item deleted so no stale copy can be cached again."""
        ...
