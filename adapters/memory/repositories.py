"""In-memory repositories: a transaction's staged changes laid over the committed rows."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Generic, TypeVar
from uuid import UUID

from application.errors import EmailAlreadyRegistered, PreconditionFailed
from domain.attachments import Attachment
from domain.items import Item
from domain.sessions import PasswordResetToken, RefreshToken
from domain.users import EmailAddress, User

Row = TypeVar("Row", User, Item, Attachment, RefreshToken, PasswordResetToken)


class _Staged(Generic[Row]):
    """Rows changed in a transaction (None: deleted), over the committed ones."""

    def __init__(self, committed: dict[UUID, Row]) -> None:
        self.committed: dict[UUID, Row] = committed
        self.changes: dict[UUID, Row | None] = {}

    def get(self, key: UUID) -> Row | None:
        row = self.changes[key] if key in self.changes else self.committed.get(key)
        return None if row is None else _copy(row)

    def put(self, row: Row) -> None:
        self.changes[row.id] = _copy(row)

    def remove(self, key: UUID) -> None:
        self.changes[key] = None

    def rows(self) -> list[Row]:
        keys = {**dict.fromkeys(self.committed), **dict.fromkeys(self.changes)}
        found = (self.get(key) for key in keys)
        return sorted((row for row in found if row is not None), key=_order)

    def apply(self) -> None:
        for key, row in self.changes.items():
            if row is None:
                self.committed.pop(key, None)
            else:
                self.committed[key] = row
        self.changes.clear()


def _copy(row: Row) -> Row:
    clone = copy.copy(row)
    if isinstance(clone, Item | User | Attachment):  # a copy records its own events
        clone.events = []
    return clone


def _order(row: User | Item | Attachment | RefreshToken | PasswordResetToken) -> tuple[object, ...]:
    return (getattr(row, "created_at", None) or getattr(row, "issued_at", 0), row.id)


class InMemoryUserRepository:
    """UserRepository over a dict."""

    def __init__(self, users: _Staged[User], items: _Staged[Item]) -> None:
        self._users, self._items = users, items

    async def add(self, user: User) -> None:
        if await self.get_by_email(user.email) is not None:
            raise EmailAlreadyRegistered("an account with this email already exists")
        self._users.put(user)

    async def get(self, user_id: UUID) -> User | None:
        return self._users.get(user_id)

    async def get_for_update(self, user_id: UUID) -> User | None:
        return self._users.get(user_id)  # transactions are serialised already

    async def get_by_email(self, email: EmailAddress) -> User | None:
        return next((u for u in self._users.rows() if u.email == email), None)

    async def update(self, user: User) -> None:
        holder = await self.get_by_email(user.email)
        if holder is not None and holder.id != user.id:
            raise EmailAlreadyRegistered("an account with this email already exists")
        self._users.put(user)

    async def delete(self, user: User) -> None:
        for item in self._items.rows():
            if item.owner_id == user.id:
                self._items.remove(item.id)
        self._users.remove(user.id)

    async def list(self, *, skip: int, limit: int) -> list[User]:
        return self._users.rows()[skip : skip + limit]

    async def count(self) -> int:
        return len(self._users.rows())


class InMemoryItemRepository:
    """ItemRepository over a dict."""

    def __init__(self, items: _Staged[Item]) -> None:
        self._items = items

    async def add(self, item: Item) -> None:
        self._items.put(item)

    async def get(self, item_id: UUID) -> Item | None:
        return self._items.get(item_id)

    async def get_for_update(self, item_id: UUID) -> Item | None:
        return self._items.get(item_id)  # transactions are serialised already

    async def save(self, item: Item) -> None:
        stored = self._items.get(item.id)
        if stored is None or stored.version != item.version - 1:
            raise PreconditionFailed("the item was changed or deleted meanwhile")
        self._items.put(item)

    async def delete(self, item: Item) -> None:
        self._items.remove(item.id)

    def _owned(self, owner_id: UUID) -> list[Item]:
        return [item for item in self._items.rows() if item.owner_id == owner_id]

    async def list_for_owner(self, owner_id: UUID, *, skip: int, limit: int) -> list[Item]:
        return self._owned(owner_id)[skip : skip + limit]

    async def count_for_owner(self, owner_id: UUID) -> int:
        return len(self._owned(owner_id))

    async def list_for_owner_with_total(
        self, owner_id: UUID, *, skip: int, limit: int
    ) -> tuple[list[Item], int]:
        owned = self._owned(owner_id)
        return owned[skip : skip + limit], len(owned)

    async def list_for_owner_after(
        self, owner_id: UUID, *, after: UUID | None, limit: int
    ) -> list[Item]:
        by_id = sorted(self._owned(owner_id), key=lambda item: item.id)
        return [item for item in by_id if after is None or item.id > after][:limit]

    async def stream_for_owner(self, owner_id: UUID) -> AsyncIterator[Item]:
        for item in self._owned(owner_id):
            yield item
