"""Whatever the domain accepts, every adapter gives back unchanged (Hypothesis)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.ports.types import UnitOfWorkFactory
from domain.items import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, Item
from domain.users import User
from tests.contract.builders import a_user, an_item, committed

FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Text a database can hold: no NUL, no lone surrogates (PostgreSQL refuses both).
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
titles = st.text(storable, min_size=1, max_size=MAX_TITLE_CHARS).filter(lambda t: t.strip())
descriptions = st.none() | st.text(storable, max_size=MAX_DESCRIPTION_CHARS // 20)
instants = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(
        timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
    ),
)


@FEW
@given(title=titles, description=descriptions)
async def test_any_title_and_description_come_back_unchanged(
    uow_factory: UnitOfWorkFactory, title: str, description: str | None
) -> None:
    owner = a_user(f"{uuid4().hex}@example.com")
    item = an_item(owner, title, description=description)
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        found = await uow.items.get(item.id)
    assert found is not None
    assert (found.title, found.description) == (title, description)


@FEW
@given(created=instants, updated=instants, full_name=st.none() | st.text(storable, max_size=255))
async def test_any_aware_instant_comes_back_as_the_same_aware_instant(
    uow_factory: UnitOfWorkFactory, created: datetime, updated: datetime, full_name: str | None
) -> None:
    owner = a_user(f"{uuid4().hex}@example.com", name=full_name)
    owner = User(owner.id, owner.email, owner.hashed_password, full_name, created)
    item = an_item(owner)
    item = Item(item.id, owner.id, item.title, None, 1, created, updated)
    await committed(uow_factory, owner, item)
    async with uow_factory() as uow:
        found_item, found_user = await uow.items.get(item.id), await uow.users.get(owner.id)
    assert found_item is not None and found_user is not None
    assert (found_item.created_at, found_item.updated_at) == (created, updated)
    assert found_user.created_at == created
    assert found_user.full_name == full_name
    assert found_item.created_at.utcoffset() is not None
