"""Exporting items: the caller's own, oldest first, from the snapshot the export started on;
the stream is started before the handler returns and closing it closes the store's stream;
and the reference encodings of application.export_format."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest

from adapters.memory.export import InMemoryItemExport
from application.dto import Actor, ItemView
from application.errors import DependencyBusy
from application.export_format import CSV_HEADER, ExportFormat, csv_record, ndjson_line, timestamp
from application.use_cases.items.create_item import CreateItem, CreateItemHandler
from application.use_cases.items.export_items import ExportItems, ExportItemsHandler

ID = UUID("0194d7a4-7c1e-7cc3-9a46-3b5e0f9d2c11")
OWNER = UUID("0194d7a4-5b2a-7d8e-8f10-6a7b8c9d0e1f")
AT = datetime(2026, 11, 24, 21, 5, 3, 123456, tzinfo=UTC)


async def _create(world, actor: Actor, title: str) -> ItemView:
    world.clock.advance(1)
    return await CreateItemHandler(world.uow, world.clock)(CreateItem(actor, title, None))


async def _export(world, actor: Actor, fmt: ExportFormat = ExportFormat.NDJSON) -> bytes:
    chunks = await ExportItemsHandler(InMemoryItemExport(world.store))(ExportItems(actor, fmt))
    return b"".join([chunk async for chunk in chunks])


def _ids(ndjson: bytes) -> list[str]:
    return [json.loads(line)["id"] for line in ndjson.splitlines()]


async def test_exports_the_callers_items_oldest_first_and_no_one_elses(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    first, _, second = [await _create(world, who, "t") for who in (ada, bob, ada)]

    assert _ids(await _export(world, ada)) == [str(first.id), str(second.id)]


async def test_a_superuser_exports_only_their_own_items_as_the_v1_list_shows(world):
    ada, root = await world.register("ada@x.io"), await world.register("r@x.io", superuser=True)
    await _create(world, ada, "ada's")
    own = await _create(world, root, "root's")

    assert _ids(await _export(world, root)) == [str(own.id)]


async def test_exports_ndjson_by_default_and_csv_when_asked(world):
    ada = await world.register()
    item = await _create(world, ada, "t")

    assert ExportItems(ada).format is ExportFormat.NDJSON
    assert await _export(world, ada) == ndjson_line(item).encode()
    assert await _export(world, ada, ExportFormat.CSV) == CSV_HEADER + csv_record(item).encode()


async def test_the_export_reads_the_items_as_they_were_when_the_handler_returned(world):
    ada = await world.register()
    before = await _create(world, ada, "before")
    chunks = await ExportItemsHandler(InMemoryItemExport(world.store))(ExportItems(ada))
    await _create(world, ada, "after")

    assert _ids(b"".join([chunk async for chunk in chunks])) == [str(before.id)]


class _Recorded:
    """An ItemExport that yields two chunks and records what became of its stream."""

    def __init__(self, fails: bool = False) -> None:
        self.fails, self.started, self.closed = fails, False, False

    async def stream(self, owner_id: UUID, fmt: ExportFormat) -> AsyncGenerator[bytes, None]:
        self.started = True
        try:
            if self.fails:
                raise DependencyBusy("requests for a database connection")
            yield b"one"
            yield b"two"
        finally:
            self.closed = True


async def test_the_stream_is_started_before_the_handler_returns_so_a_busy_store_raises_there(
    world,
):
    ada = await world.register()
    with pytest.raises(DependencyBusy):
        await ExportItemsHandler(_Recorded(fails=True))(ExportItems(ada))


async def test_closing_the_export_early_closes_the_stores_stream(world):
    ada, export = await world.register(), _Recorded()
    chunks = await ExportItemsHandler(export)(ExportItems(ada))
    assert export.started and not export.closed

    assert await anext(chunks) == b"one"
    await chunks.aclose()

    assert export.closed


@pytest.mark.parametrize(
    ("moment", "written"),
    [
        (AT, "2026-11-24T21:05:03.123456Z"),
        (AT.replace(microsecond=0), "2026-11-24T21:05:03Z"),
        (AT.replace(microsecond=1_000), "2026-11-24T21:05:03.001000Z"),
        (AT.astimezone(timezone(timedelta(hours=2))), "2026-11-24T21:05:03.123456Z"),
        (AT.replace(tzinfo=None), "2026-11-24T21:05:03.123456Z"),
    ],
)
def test_timestamps_are_written_in_utc_with_microseconds_only_when_there_are_any(
    moment: datetime, written: str
):
    assert timestamp(moment) == written


def test_an_ndjson_line_is_compact_json_in_field_order_with_utf8_and_escaped_controls():
    item = ItemView(ID, OWNER, 'é "q"\n', None, 3, AT, AT.replace(microsecond=0))

    assert ndjson_line(item) == (
        f'{{"id":"{ID}","owner_id":"{OWNER}","title":"é \\"q\\"\\n","description":null,'
        '"version":3,"created_at":"2026-11-24T21:05:03.123456Z",'
        '"updated_at":"2026-11-24T21:05:03Z"}\n'
    )


@pytest.mark.parametrize(
    ("title", "description", "cells"),
    [
        ("plain", None, '"plain",'),
        ('a "quote", a comma', "", '"a ""quote"", a comma",""'),
        ("=1+2", "+1", '"\'=1+2","\'+1"'),
        ("-1", "@A1", '"\'-1","\'@A1"'),
        ("\tx", "\ry", '"\'\tx","\'\ry"'),
        ("a\r\nb", "'=quoted already'", '"a\r\nb","\'=quoted already\'"'),
    ],
)
def test_a_csv_record_quotes_text_defuses_formulas_and_leaves_an_absent_description_empty(
    title: str, description: str | None, cells: str
):
    item = ItemView(ID, OWNER, title, description, 2, AT, AT)

    assert csv_record(item) == (
        f'"{ID}","{OWNER}",{cells},2,"2026-11-24T21:05:03.123456Z","2026-11-24T21:05:03.123456Z"\r\n'
    )
