"""SQL repositories: prebuilt Core statements; each table's rows mapped to its entity by one
pair of functions, over one list of its columns."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, delete, func, insert, select, update

from adapters.sqlalchemy.tables import item_counts, items, users
from adapters.sqlalchemy.transaction import Transaction
from application.errors import EmailAlreadyRegistered, PreconditionFailed
from domain.items import Item
from domain.users import EmailAddress, User

STREAM_BATCH = 500

# Built once: SQLAlchemy then finds each compiled form in its cache on every call.
_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.hashed_password,
    users.c.full_name,
    users.c.created_at,
    users.c.is_active,
    users.c.is_superuser,
)
_USER_BY_ID = select(*_USER_COLUMNS).where(users.c.id == bindparam("id"))
_USER_BY_ID_FOR_UPDATE = _USER_BY_ID.with_for_update()  # SQLite: BEGIN IMMEDIATE does it
_USER_BY_EMAIL = select(*_USER_COLUMNS).where(users.c.email == bindparam("email"))
_USERS_PAGE = (
    select(*_USER_COLUMNS)
    .order_by(users.c.created_at, users.c.id)
    .offset(bindparam("skip"))
    .limit(bindparam("limit"))
)
_COUNT_USERS = select(func.count()).select_from(users)
_INSERT_USER = insert(users)
_UPDATE_USER = update(users).where(users.c.id == bindparam("user_id"))
_DELETE_USER = delete(users).where(users.c.id == bindparam("id"))

# An item's columns, once, in the order of Item's fields: every item query selects these, so a
# row maps to an Item by position (`_item`) and an Item to its row by column name (`_item_row`).
_ITEM_COLUMNS = (
    items.c.id,
    items.c.owner_id,
    items.c.title,
    items.c.description,
    items.c.version,
    items.c.created_at,
    items.c.updated_at,
)
_ITEM_BY_ID = select(*_ITEM_COLUMNS).where(items.c.id == bindparam("id"))
_ITEM_BY_ID_FOR_UPDATE = _ITEM_BY_ID.with_for_update()  # SQLite: BEGIN IMMEDIATE does it
_OWNED = select(*_ITEM_COLUMNS).where(items.c.owner_id == bindparam("owner_id"))
_OLDEST_FIRST = _OWNED.order_by(items.c.created_at, items.c.id)
_ITEMS_PAGE = _OLDEST_FIRST.offset(bindparam("skip")).limit(bindparam("limit"))
_ITEMS_STREAM = _OLDEST_FIRST.execution_options(yield_per=STREAM_BATCH)
_ITEMS_FIRST_BY_ID = _OWNED.order_by(items.c.id).limit(bindparam("limit"))
_ITEMS_AFTER_BY_ID = (
    _OWNED.where(items.c.id > bindparam("after")).order_by(items.c.id).limit(bindparam("limit"))
)
# Each user's item count is kept in its own row, changed with every item insert and delete.
_NEW_ITEM_COUNT = insert(item_counts).values(count=0)
_ITEM_COUNT = select(item_counts.c.count).where(item_counts.c.owner_id == bindparam("owner_id"))
_OWNERS_COUNT = update(item_counts).where(item_counts.c.owner_id == bindparam("owner"))
_COUNT_ONE_MORE = _OWNERS_COUNT.values(count=item_counts.c.count + 1)
_COUNT_ONE_LESS = _OWNERS_COUNT.values(count=item_counts.c.count - 1)
_ITEMS_PAGE_AND_TOTAL = _ITEMS_PAGE.add_columns(_ITEM_COUNT.scalar_subquery())
_INSERT_ITEM = insert(items)
_SAVE_ITEM = update(items).where(
    items.c.id == bindparam("item_id"), items.c.version == bindparam("previous_version")
)
_DELETE_ITEM = delete(items).where(items.c.id == bindparam("id"))
_ITEM_WIDTH = len(_ITEM_COLUMNS)
_ITEM_NAMES = tuple(column.key for column in _ITEM_COLUMNS)


def _user(row: Sequence[Any]) -> User:
    return User(row[0], EmailAddress(row[1]), row[2], row[3], row[4], row[5], row[6])


def _user_values(user: User) -> dict[str, Any]:
    return {
        "email": user.email.value,
        "hashed_password": user.hashed_password,
        "full_name": user.full_name,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
    }


def _item(row: Sequence[Any]) -> Item:
    """The Item of a row whose first columns are `_ITEM_COLUMNS` (a page's total may follow)."""
    return Item(*row[:_ITEM_WIDTH])


def _item_row(item: Item) -> dict[str, Any]:
    """The values of every column of `_ITEM_COLUMNS` for `item`, by column name."""
    return {name: getattr(item, name) for name in _ITEM_NAMES}


class SqlAlchemyUserRepository:
    """UserRepository over the `users` table; emails are stored normalised (lower case)."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, user: User) -> None:
        values = {"id": user.id, "created_at": user.created_at, **_user_values(user)}
        await self._tx.write_or_refuse(_INSERT_USER, values, _email_taken())
        await self._tx.write(_NEW_ITEM_COUNT, {"owner_id": user.id})

    async def get(self, user_id: UUID) -> User | None:
        row = (await self._tx.read(_USER_BY_ID, {"id": user_id})).first()
        return None if row is None else _user(row)

    async def get_for_update(self, user_id: UUID) -> User | None:
        row = (await self._tx.read_for_write(_USER_BY_ID_FOR_UPDATE, {"id": user_id})).first()
        return None if row is None else _user(row)

    async def get_by_email(self, email: EmailAddress) -> User | None:
        row = (await self._tx.read(_USER_BY_EMAIL, {"email": email.value})).first()
        return None if row is None else _user(row)

    async def update(self, user: User) -> None:
        values = {"user_id": user.id, **_user_values(user)}
        await self._tx.write_or_refuse(_UPDATE_USER, values, _email_taken())

    async def delete(self, user: User) -> None:
        # The items (and, later, anything else the user owns) go by ON DELETE CASCADE.
        await self._tx.write(_DELETE_USER, {"id": user.id})

    async def list(self, *, skip: int, limit: int) -> list[User]:
        result = await self._tx.read(_USERS_PAGE, {"skip": skip, "limit": limit})
        return [_user(row) for row in result]

    async def count(self) -> int:
        return int((await self._tx.read(_COUNT_USERS)).scalar_one())


def _email_taken() -> EmailAlreadyRegistered:
    return EmailAlreadyRegistered("an account with this email already exists")


class SqlAlchemyItemRepository:
    """ItemRepository over the `items` table: optimistic locking on `version`, a row lock
    (SELECT ... FOR UPDATE) for a read that is to be written back, and each owner's count in
    `item_counts`, kept in the same transaction as the insert or delete."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, item: Item) -> None:
        await self._tx.write(_INSERT_ITEM, _item_row(item))
        await self._tx.write(_COUNT_ONE_MORE, {"owner": item.owner_id})

    async def get(self, item_id: UUID) -> Item | None:
        row = (await self._tx.read(_ITEM_BY_ID, {"id": item_id})).first()
        return None if row is None else _item(row)

    async def get_for_update(self, item_id: UUID) -> Item | None:
        row = (await self._tx.read_for_write(_ITEM_BY_ID_FOR_UPDATE, {"id": item_id})).first()
        return None if row is None else _item(row)

    async def save(self, item: Item) -> None:
        # The whole row is written back: the columns that cannot change keep their values.
        values = {"item_id": item.id, "previous_version": item.version - 1, **_item_row(item)}
        if await self._tx.write(_SAVE_ITEM, values) == 0:
            raise PreconditionFailed("the item was changed or deleted meanwhile")

    async def delete(self, item: Item) -> None:
        # Counted only if this statement removed it: a concurrent delete may have got there first.
        if await self._tx.write(_DELETE_ITEM, {"id": item.id}):
            await self._tx.write(_COUNT_ONE_LESS, {"owner": item.owner_id})

    async def list_for_owner(self, owner_id: UUID, *, skip: int, limit: int) -> list[Item]:
        params = {"owner_id": owner_id, "skip": skip, "limit": limit}
        return [_item(row) for row in await self._tx.read(_ITEMS_PAGE, params)]

    async def count_for_owner(self, owner_id: UUID) -> int:
        result = await self._tx.read(_ITEM_COUNT, {"owner_id": owner_id})
        return int(result.scalar_one_or_none() or 0)  # no row: no such user, so no items

    async def list_for_owner_with_total(
        self, owner_id: UUID, *, skip: int, limit: int
    ) -> tuple[list[Item], int]:
        params = {"owner_id": owner_id, "skip": skip, "limit": limit}
        rows = (await self._tx.read(_ITEMS_PAGE_AND_TOTAL, params)).all()
        if not rows:  # past the last item: the total has no row to ride on
            return [], await self.count_for_owner(owner_id)
        return [_item(row) for row in rows], int(rows[0][-1] or 0)

    async def list_for_owner_after(
        self, owner_id: UUID, *, after: UUID | None, limit: int
    ) -> list[Item]:
        if after is None:
            params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
            return [_item(row) for row in await self._tx.read(_ITEMS_FIRST_BY_ID, params)]
        params = {"owner_id": owner_id, "after": after, "limit": limit}
        return [_item(row) for row in await self._tx.read(_ITEMS_AFTER_BY_ID, params)]

    async def stream_for_owner(self, owner_id: UUID) -> AsyncIterator[Item]:
        async for row in self._tx.stream(_ITEMS_STREAM, {"owner_id": owner_id}):
            yield _item(row)
