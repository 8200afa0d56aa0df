"""Entities for contract tests, at chosen moments so that ordering is predictable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.ports.types import UnitOfWorkFactory
from domain.ids import new_id
from domain.items import Item
from domain.users import EmailAddress, User

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """The moment `seconds` after the suite's start."""
    return START + timedelta(seconds=seconds)


def a_user(email: str = "ada@example.com", *, second: float = 0, name: str | None = "Ada") -> User:
    """A freshly registered user."""
    now = at(second)
    return User.register(
        user_id=new_id(now),
        email=EmailAddress(email),
        hashed_password="fake$1$correct horse",
        full_name=name,
        now=now,
    )


def an_item(
    owner: User, title: str = "a title", *, second: float = 0, description: str | None = None
) -> Item:
    """Version 1 of an item of `owner`."""
    now = at(second)
    return Item.create(
        item_id=new_id(now), owner_id=owner.id, title=title, description=description, now=now
    )


async def committed(uow_factory: UnitOfWorkFactory, *entities: User | Item) -> None:
    """Store users and items (users first, in the order given) in one committed transaction."""
    async with uow_factory() as uow:
        for entity in entities:
            if isinstance(entity, User):
                await uow.users.add(entity)
            else:
                await uow.items.add(entity)
        await uow.commit()
