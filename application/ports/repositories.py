"""Repository ports: collections of aggregates. Repositories never commit."""

from collections.abc import AsyncIterator, Collection
from typing import Protocol
from uuid import UUID

from domain.attachments import Attachment
from domain.items import Item
from domain.users import EmailAddress, User


class UserRepository(Protocol):
    """All accounts, looked up by id or by (case-insensitive) email."""

    async def add(self, user: User) -> None:
        """Stage a new user. Raises EmailAlreadyRegistered if the email is taken."""
        ...

    async def get(self, user_id: UUID) -> User | None:
        """Return the user with that id, or None."""
        ...

    async def get_by_email(self, email: EmailAddress) -> User | None:
        """Return the user with that (normalised) email, or None."""
        ...

    async def get_for_update(self, user_id: UUID) -> User | None:
        """Return the user (or None), held against concurrent changes until the unit of work
        ends, so that what is written back cannot undo another change made meanwhile."""
        ...

    async def update(self, user: User) -> None:
        """Stage the user's changed fields. Raises EmailAlreadyRegistered if the email is taken."""
        ...

    async def delete(self, user: User) -> None:
        """Stage the removal of the user and of everything the user owns."""
        ...

    async def list(self, *, skip: int, limit: int) -> list[User]:
        """Return up to `limit` users after the first `skip`, oldest first."""
        ...

    async def count(self) -> int:
        """Return how many users there are."""
        ...


class ItemRepository(Protocol):
    """All items; every listing is of one owner's items, oldest first."""

    async def add(self, item: Item) -> None:
        """Stage a new item."""
        ...

    async def get(self, item_id: UUID) -> Item | None:
        """Return the item with that id, or None."""
        ...

    async def get_for_update(self, item_id: UUID) -> Item | None:
        """Return the item (or None), held against concurrent changes and deletion until the
        unit of work ends: a change made to it and saved then lands on the current version."""
        ...

    async def save(self, item: Item) -> None:
        """Stage an updated item, if the stored version is `item.version - 1`.

        Raises PreconditionFailed when another change got there first (optimistic locking;
        an item read by `get_for_update` cannot be changed meanwhile).
        """
        ...

    async def delete(self, item: Item) -> None:
        """Stage the removal of the item."""
        ...

    async def list_for_owner(self, owner_id: UUID, *, skip: int, limit: int) -> list[Item]:
        """Return up to `limit` of the owner's items after the first `skip`, oldest first."""
        ...

    async def count_for_owner(self, owner_id: UUID) -> int:
        """Return how many items the owner has."""
        ...

    async def list_for_owner_with_total(
        self, owner_id: UUID, *, skip: int, limit: int
    ) -> tuple[list[Item], int]:
        """Return what `list_for_owner` returns and `count_for_owner`, read together (one
        round trip, one snapshot, whenever the page is not empty)."""
        ...

    async def list_for_owner_after(
        self, owner_id: UUID, *, after: UUID | None, limit: int
    ) -> list[Item]:
        """Return up to `limit` of the owner's items with ids greater than `after`, by id."""
        ...

    def stream_for_owner(self, owner_id: UUID) -> AsyncIterator[Item]:
        """Yield every item of the owner, oldest first, holding few in memory at once."""
        ...


class AttachmentRepository(Protocol):
    """The records of every item's attachments (their bytes are in the BlobStore), oldest
    first. Deleting an item deletes its attachments' records too."""

    async def add(self, attachment: Attachment) -> None:
        """Stage a new attachment of an existing item. Raises Conflict if the item is gone."""
        ...

    async def get(self, item_id: UUID, attachment_id: UUID) -> Attachment | None:
        """Return the attachment with that id if it belongs to that item, else None."""
        ...

    async def list_for_item(self, item_id: UUID) -> list[Attachment]:
        """Return every attachment of the item, oldest first."""
        ...

    async def list_for_items(self, item_ids: Collection[UUID]) -> list[Attachment]:
        """Return every attachment of these items, oldest first (one read for a batch)."""
        ...

    async def count_for_item(self, item_id: UUID) -> int:
        """Return how many attachments the item has."""
        ...

    async def existing(self, attachment_ids: Collection[UUID]) -> set[UUID]:
        """Return those of `attachment_ids` that have a record (the orphan sweep asks)."""
        ...

    async def delete(self, attachment: Attachment) -> None:
        """Stage the removal of the attachment's record (deleting a missing one is no error)."""
        ...
