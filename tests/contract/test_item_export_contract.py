"""Every item export writes application.export_format's bytes exactly (memory, SQLite and
PostgreSQL alike): the owner's items only, oldest first, from one snapshot while others
commit; closed early, it gives its connection back at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.memory.events import RecordingPublisher
from adapters.memory.export import InMemoryItemExport
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.export import SqlAlchemyItemExport
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.dto import ItemView
from application.export_format import FORMULA_STARTS, ExportFormat, encode, header
from application.ports.export import ItemExport
from application.ports.types import UnitOfWorkFactory
from domain.items import MAX_TITLE_CHARS, Item
from domain.users import User
from tests.contract.builders import a_user, an_item, at, committed
from tests.contract.databases import empty_engine

FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
storable = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
# Cells that CSV must quote or defuse, and JSON must escape, more often than chance has them.
awkward = st.sampled_from(["", *FORMULA_STARTS, '"', ",", "\n", "\r\n", "\\", "'", "é", "\x01"])
texts = st.tuples(awkward, st.text(storable, max_size=40), awkward).map("".join)
titles = texts.filter(lambda t: t.strip() and len(t) <= MAX_TITLE_CHARS)
descriptions = st.none() | texts
TIES = [datetime(2026, 3, 1, 12, 0, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, 0, 500, tzinfo=UTC)]
instants = st.sampled_from(TIES) | st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(2200, 1, 1),
    timezones=st.builds(
        timezone, st.integers(-14 * 60, 14 * 60).map(lambda m: timedelta(minutes=m))
    ),
)
rows = st.lists(
    st.tuples(titles, descriptions, st.integers(1, 10**6), instants, instants), max_size=6
)


@dataclass
class Subject:
    """A store's units of work and its export, over the same data."""

    uow: UnitOfWorkFactory
    export: ItemExport
    connections_in_use: Callable[[], int]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def subject(
    request: pytest.FixtureRequest, publisher: RecordingPublisher, tmp_path: Path
) -> AsyncIterator[Subject]:
    if request.param == "memory":
        store = MemoryStore()
        yield Subject(lambda: InMemoryUnitOfWork(store, publisher), InMemoryItemExport(store), int)
        return
    async with empty_engine(request, tmp_path, max_overflow=0) as engine:
        yield Subject(
            lambda: SqlAlchemyUnitOfWork(engine, publisher),
            SqlAlchemyItemExport(engine),
            engine.sync_engine.pool.checkedout,  # type: ignore[attr-defined]
        )


def _owner() -> User:
    return a_user(f"{uuid4().hex}@example.com")


def _expected(items: list[Item], fmt: ExportFormat) -> bytes:
    oldest_first = sorted(items, key=lambda item: (item.created_at, item.id))
    return header(fmt) + encode(map(ItemView.of, oldest_first), fmt)


async def _read(export: ItemExport, owner_id: UUID, fmt: ExportFormat) -> bytes:
    return b"".join([chunk async for chunk in export.stream(owner_id, fmt)])


@FEW
@given(rows=rows, fmt=st.sampled_from(ExportFormat))
async def test_writes_exactly_the_reference_bytes_of_the_owners_items_oldest_first(
    subject: Subject, rows: list[tuple[str, str | None, int, datetime, datetime]], fmt: ExportFormat
) -> None:
    owner, other = _owner(), _owner()
    mine = [
        Item(uuid4(), owner.id, title, description, version, created, updated)
        for title, description, version, created, updated in rows
    ]
    await committed(subject.uow, owner, other, *mine, an_item(other, "not mine"))

    assert await _read(subject.export, owner.id, fmt) == _expected(mine, fmt)


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_an_owner_without_items_gets_the_header_alone(
    subject: Subject, fmt: ExportFormat
) -> None:
    owner = _owner()
    await committed(subject.uow, owner)

    assert await _read(subject.export, owner.id, fmt) == header(fmt)


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_reads_one_snapshot_while_others_commit(subject: Subject, fmt: ExportFormat) -> None:
    owner = _owner()
    mine = [an_item(owner, f"item {n}", second=n, description="x" * 200) for n in range(600)]
    await committed(subject.uow, owner, *mine)
    stream = subject.export.stream(owner.id, fmt)
    first = await anext(stream)
    async with subject.uow() as uow:  # while the export is under way
        await uow.items.add(an_item(owner, "newer", second=1_000))
        changed = await uow.items.get(mine[-1].id)
        assert changed is not None
        changed.update(title="renamed", now=at(2_000))
        await uow.items.save(changed)
        await uow.items.delete(mine[-2])
        await uow.commit()
    rest = b"".join([chunk async for chunk in stream])

    assert first != _expected(mine, fmt)  # the changes came while rows were still to be read
    assert first + rest == _expected(mine, fmt)


@pytest.mark.parametrize("fmt", list(ExportFormat))
async def test_an_export_closed_early_gives_its_connection_back_at_once(
    subject: Subject, fmt: ExportFormat
) -> None:
    owner = _owner()
    await committed(subject.uow, owner, *(an_item(owner, f"{n}", second=n) for n in range(3_000)))
    stream = subject.export.stream(owner.id, fmt)
    await anext(stream)
    await stream.aclose()

    assert subject.connections_in_use() == 0
    assert await _read(subject.export, owner.id, fmt) != b""  # and the store serves on
