"""The SQL item export: PostgreSQL writes the file itself (copy_export.py); SQLite rows are read
by one statement and encoded here, a batch at a time."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from uuid import UUID

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.checkout import pooled
from adapters.sqlalchemy.copy_export import copied
from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from adapters.sqlalchemy.tables import items
from application.dto import ItemView
from application.export_format import COLUMNS, ExportFormat, encode, header

BATCH = 100  # rows: a chunk holds at most ~4 MB (100 descriptions of 10,000 characters)

_OLDEST_FIRST = (
    select(*(items.c[name] for name in COLUMNS))
    .where(items.c.owner_id == bindparam("owner_id"))
    .order_by(items.c.created_at, items.c.id)
)


class SqlAlchemyItemExport:
    """ItemExport over the `items` table, on a connection of the engine's fair checkout."""

    def __init__(self, engine: AsyncEngine, batch: int = BATCH) -> None:
        self._engine, self._batch = engine, batch

    def stream(self, owner_id: UUID, fmt: ExportFormat) -> AsyncGenerator[bytes, None]:
        if self._engine.dialect.name == "postgresql":
            return copied(self._engine, owner_id, fmt)
        return self._encoded(owner_id, fmt)

    async def _encoded(self, owner_id: UUID, fmt: ExportFormat) -> AsyncGenerator[bytes, None]:
        """SQLite: one SELECT is one read transaction, so its rows are one snapshot however
        long they take to step through (WAL keeps it while writers commit)."""
        try:
            async with (
                pooled(self._engine) as conn,
                conn.stream(_OLDEST_FIRST, {"owner_id": owner_id}) as result,
            ):
                first = header(fmt)
                async for rows in result.partitions(self._batch):
                    yield first + encode((ItemView(*row) for row in rows), fmt)
                    first = b""
                if first:
                    yield first
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
