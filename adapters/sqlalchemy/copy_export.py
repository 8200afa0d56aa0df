r"""The PostgreSQL item export: the database writes the file itself, by `COPY (SELECT ...) TO
STDOUT`, and this process only passes the bytes on.

Each row is encoded by PostgreSQL as it is read, exactly as application.export_format writes
it: NDJSON lines by `concat` and `to_json` (whose string escapes are the item JSON's), CSV
records by COPY's own quoting. Two details make COPY write those bytes and nothing else:

- NDJSON goes out as a one-column CSV whose delimiter and quote are \x02 and \x01. JSON text
  escapes every control character, so no line holds one, nor CR or LF: COPY never quotes a
  line and writes each as it is, then LF.
- CSV records end with CRLF (RFC 4180), COPY's with LF. The last cell is written with a CR at
  its end, which COPY quotes as `"…\r"` + LF; `\r"\n` occurs in COPY's CSV nowhere else (a
  quote inside a cell is doubled, and a cell opens after a comma or a line break), so
  replacing it with `"\r\n` gives the record its CRLF and its last cell its closing quote.

The rows come from one REPEATABLE READ READ ONLY transaction, so one snapshot. COPY plans for
the whole result, where a seq scan and a sort may look cheaper than the (owner_id, created_at,
id) index; a sort would read every row before writing the first, so sorts are ruled out.

Back-pressure reaches the database: COPY's output is gathered into chunks of CHUNK_BYTES and
handed over QUEUE_CHUNKS deep; while the reader is behind, asyncpg stops reading its socket and
PostgreSQL waits to send. A reader that leaves before the end has its connection discarded,
which stops the COPY and ends the transaction on the server at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.checkout import checkin, checkout
from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from application.errors import DependencyUnavailable
from application.export_format import ExportFormat, header

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024
QUEUE_CHUNKS = 2
ROLLBACK_SECONDS = 5.0

_SNAPSHOT = (
    "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;"
    " SET LOCAL TimeZone TO 'UTC'; SET LOCAL enable_sort TO off"
)
_ASYNCPG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)

_NDJSON = r"""
SELECT concat(
    '{"id":"', id,
    '","owner_id":"', owner_id,
    '","title":', to_json(title),
    ',"description":', coalesce(to_json(description)::text, 'null'),
    ',"version":', version,
    ',"created_at":"',
        replace(to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z'),
    '","updated_at":"',
        replace(to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z'),
    '"}')
FROM items WHERE owner_id = $1 ORDER BY items.created_at, items.id
"""
_CSV = r"""
SELECT id, owner_id,
    CASE WHEN left(title, 1) IN ('=', '+', '-', '@', E'\t', E'\r') THEN '''' || title
        ELSE title END AS title,
    CASE WHEN left(description, 1) IN ('=', '+', '-', '@', E'\t', E'\r') THEN '''' || description
        ELSE description END AS description,
    version,
    replace(to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z') AS created_at,
    replace(to_char(updated_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z') || E'\r'
        AS updated_at
FROM items WHERE owner_id = $1 ORDER BY items.created_at, items.id
"""
QUERIES = {ExportFormat.NDJSON: _NDJSON, ExportFormat.CSV: _CSV}
"""The SELECT of each format, for `COPY (...) TO STDOUT` with `COPY_OPTIONS` (and $1 the owner)."""

COPY_OPTIONS: dict[ExportFormat, dict[str, Any]] = {
    ExportFormat.NDJSON: {"format": "csv", "delimiter": "\x02", "quote": "\x01"},
    ExportFormat.CSV: {
        "format": "csv",
        "force_quote": ["id", "owner_id", "title", "description", "created_at", "updated_at"],
    },
}
_RECORD_END = (b'\r"\n', b'"\r\n')


class _Pipe:
    """COPY's output (asyncpg calls `write`) to the reader (`next`), CHUNK_BYTES at a time and
    at most QUEUE_CHUNKS ahead; a failed COPY reaches the reader as its exception."""

    def __init__(self, fmt: ExportFormat) -> None:
        self._queue: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(QUEUE_CHUNKS)
        self._parts, self._size = [header(fmt)], 0
        self._crlf = fmt is ExportFormat.CSV
        self._tail = b""  # CSV: what follows the last LF, held back so no `\r"\n` is cut

    async def write(self, data: bytes) -> None:
        if self._crlf:
            data = self._tail + data
            cut = data.rfind(b"\n") + 1
            data, self._tail = data[:cut].replace(*_RECORD_END), data[cut:]
        self._parts.append(data)
        self._size += len(data)
        if self._size >= CHUNK_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        chunk = b"".join(self._parts)
        self._parts, self._size = [], 0
        if chunk:
            await self._queue.put(chunk)

    async def run(self, driver: Any, owner_id: UUID, fmt: ExportFormat) -> None:
        """Run the COPY into this pipe, then mark its end (or hand over its failure)."""
        try:
            await driver.copy_from_query(
                QUERIES[fmt], owner_id, output=self.write, **COPY_OPTIONS[fmt]
            )
            self._parts.append(self._tail)  # empty: COPY's output ends with a line break
            await self._flush()
        except Exception as exc:
            await self._queue.put(exc)
            return
        await self._queue.put(None)

    async def next(self) -> bytes | None:
        """The next chunk, or None at the end. Raises what the COPY raised."""
        item = await self._queue.get()
        if isinstance(item, Exception):
            raise item
        return item


async def copied(
    engine: AsyncEngine, owner_id: UUID, fmt: ExportFormat
) -> AsyncGenerator[bytes, None]:
    """The owner's export file in `fmt`, written by PostgreSQL (see the module docstring)."""
    async with _snapshot(engine) as session:
        pipe = _Pipe(fmt)
        copy = asyncio.create_task(pipe.run(session.driver, owner_id, fmt), name="export-copy")
        try:
            while (chunk := await pipe.next()) is not None:
                yield chunk
            session.read_to_the_end = True
        except _ASYNCPG_ERRORS as exc:
            raise DependencyUnavailable("the database is unavailable") from exc
        finally:
            copy.cancel()  # a no-op once it is done; else the reader left: stop the COPY
            await asyncio.wait([copy])


@dataclass
class _Session:
    driver: Any  # asyncpg.Connection
    read_to_the_end: bool = False


@contextlib.asynccontextmanager
async def _snapshot(engine: AsyncEngine) -> AsyncIterator[_Session]:
    """A pooled connection's asyncpg connection, inside the export's read-only transaction.

    Afterwards the connection goes back to the pool: rolled back if the COPY was read to the
    end; otherwise discarded, which ends the COPY and the transaction on the server at once
    (asyncpg cannot reliably cancel a COPY half read: the connection may stay stuck in it).
    """
    try:
        conn = await checkout(engine)
    except DRIVER_ERRORS as exc:
        raise translate(exc) from exc
    try:
        session = _Session((await conn.get_raw_connection()).driver_connection)
        try:
            await _begin(session.driver)
            yield session
        finally:
            if not (session.read_to_the_end and await _rolled_back(session.driver)):
                await _discard(conn, session.driver)
    finally:
        try:
            await checkin(engine, conn)
        except DRIVER_ERRORS:
            log.warning("could not return a connection to the pool", exc_info=True)


async def _begin(driver: Any) -> None:
    try:
        await driver.execute(_SNAPSHOT)  # one round trip: the simple query protocol
    except _ASYNCPG_ERRORS as exc:
        raise DependencyUnavailable("the database is unavailable") from exc


async def _rolled_back(driver: Any) -> bool:
    """End the export's transaction; False if that failed."""
    try:
        async with asyncio.timeout(ROLLBACK_SECONDS):
            await driver.execute("ROLLBACK")
    except (*_ASYNCPG_ERRORS, TimeoutError):
        log.warning("could not end an export's transaction; discarding the connection")
        return False
    return True


async def _discard(conn: AsyncConnection, driver: Any) -> None:
    driver.terminate()
    with contextlib.suppress(*DRIVER_ERRORS):
        await conn.invalidate()
