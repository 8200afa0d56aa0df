"""Rows map to entities faithfully: instants come back aware and in UTC on every database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.events import RecordingPublisher
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrate import upgrade_async
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from domain.items import Item
from tests.contract.builders import a_user, an_item, committed
from tests.contract.databases import sqlite_url

KOLKATA = timezone(timedelta(hours=5, minutes=30))


async def test_timestamps_come_back_timezone_aware_in_utc(engine: AsyncEngine) -> None:
    owner = a_user()
    created = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=KOLKATA)
    template = an_item(owner)
    item = Item(template.id, owner.id, "t", None, 1, created, created + timedelta(hours=1))
    await committed(lambda: SqlAlchemyUnitOfWork(engine, RecordingPublisher()), owner, item)
    async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
        found = await uow.items.get(item.id)
        user = await uow.users.get(owner.id)
    assert found is not None and user is not None
    assert found.created_at == created
    assert found.created_at.tzinfo is UTC
    assert found.updated_at.tzinfo is UTC
    assert user.created_at.tzinfo is UTC
    assert found.created_at.isoformat() == "2026-03-01T06:30:00.123456+00:00"


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """The service's engine over a migrated SQLite file."""
    url = sqlite_url(tmp_path / "mapping.db")
    await upgrade_async(url)
    engine = create_engine(url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def test_sqlite_stores_instants_in_utc_so_they_sort_as_text(
    sqlite_engine: AsyncEngine,
) -> None:
    engine = sqlite_engine
    owner = a_user()
    early = datetime(2026, 3, 1, 12, 0, tzinfo=KOLKATA)  # 06:30 UTC
    late = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)  # later, though "07" < "12" as local text
    first, second = an_item(owner, "early"), an_item(owner, "late")
    rows = [
        Item(i.id, owner.id, i.title, None, 1, t, t) for i, t in ((second, late), (first, early))
    ]
    await committed(lambda: SqlAlchemyUnitOfWork(engine, RecordingPublisher()), owner, *rows)
    async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
        listed = await uow.items.list_for_owner(owner.id, skip=0, limit=10)
    async with engine.connect() as conn:
        stored = (await conn.execute(text("SELECT min(created_at) FROM items"))).scalar_one()
    assert [i.title for i in listed] == ["early", "late"]
    assert stored.startswith("2026-03-01 06:30:00")
