"""One unit of work's connection, shared by its repositories: statements in, safe errors out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, Result, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sqlalchemy.checkout import checkin, checkout
from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from application.errors import ApplicationError, DependencyUnavailable

log = logging.getLogger(__name__)

Params = Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class _Dialect:
    begin_write: str
    begin_stream: str | None  # None: a streaming read needs no transaction


# SQLite: BEGIN IMMEDIATE takes the write lock up front, so a second writer waits on the busy
# timeout and then sees the first one's commit, instead of failing with SQLITE_BUSY_SNAPSHOT.
# PostgreSQL: server-side cursors live only inside a transaction.
_DIALECTS = {
    "sqlite": _Dialect("BEGIN IMMEDIATE", None),
    "postgresql": _Dialect("BEGIN", "BEGIN"),
}
_SAVEPOINT = "SAVEPOINT guarded_write"
_ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT guarded_write"
_RELEASE_SAVEPOINT = "RELEASE SAVEPOINT guarded_write"


class Transaction:
    """A pooled connection running in autocommit until the first write opens a transaction.

    Reads before the first write each see committed data (PostgreSQL's READ COMMITTED) and
    cost one round trip, and read-only units of work never pay for BEGIN and ROLLBACK. What is
    read to be written back is read inside the transaction: items by their version check,
    users through `read_for_write` (SELECT ... FOR UPDATE; BEGIN IMMEDIATE on SQLite).

    After any failed statement (other than a refusal absorbed by a savepoint) commit refuses,
    on both dialects: PostgreSQL would answer COMMIT with a silent ROLLBACK, SQLite would
    commit the rest. Once the connection is lost (the server ended it, a statement was
    cancelled) it is dead for good: every further statement and commit raises
    DependencyUnavailable without touching it, and rollback has nothing left to undo.
    """

    __slots__ = ("_conn", "_dialect", "_engine", "_failure", "_in_transaction")

    _conn: AsyncConnection
    _dialect: _Dialect
    _engine: AsyncEngine

    def __init__(self) -> None:
        self._in_transaction = False
        self._failure: BaseException | None = None

    async def open(self, engine: AsyncEngine) -> None:
        """Check a connection out of the engine's pool, waiting in line while all are in use."""
        try:
            self._conn = await checkout(engine)
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        self._engine = engine
        self._dialect = _DIALECTS[engine.dialect.name]
        self._in_transaction, self._failure = False, None

    def _failed(self, exc: BaseException) -> ApplicationError:
        self._failure = exc
        return translate(exc)

    async def read(self, statement: Executable, params: Params = None) -> Result[Any]:
        """Run a query and return its buffered result."""
        self._require_connection()
        try:
            return await self._conn.execute(statement, params)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc

    async def read_for_write(self, statement: Executable, params: Params = None) -> Result[Any]:
        """Run a query inside the write transaction (opening it), e.g. a SELECT ... FOR UPDATE."""
        self._require_connection()
        try:
            await self._begin(self._dialect.begin_write)
            return await self._conn.execute(statement, params)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc

    async def write(self, statement: Executable, params: Params = None) -> int:
        """Run a change inside the transaction and return how many rows it touched."""
        self._require_connection()
        try:
            await self._begin(self._dialect.begin_write)
            result = await self._conn.execute(statement, params)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc
        return cast(CursorResult[Any], result).rowcount

    async def write_or_refuse(
        self, statement: Executable, params: Params, refusal: ApplicationError
    ) -> None:
        """Run a change a constraint may refuse; if it does, raise `refusal` and stay usable."""
        self._require_connection()
        conn = self._conn
        try:
            await self._begin(self._dialect.begin_write)
            await conn.exec_driver_sql(_SAVEPOINT)
            try:
                await conn.execute(statement, params)
            except IntegrityError as exc:
                await conn.exec_driver_sql(_ROLLBACK_TO_SAVEPOINT)
                await conn.exec_driver_sql(_RELEASE_SAVEPOINT)
                raise refusal from exc
            await conn.exec_driver_sql(_RELEASE_SAVEPOINT)
        except DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc

    async def stream(self, statement: Executable, params: Params = None) -> AsyncIterator[Row[Any]]:
        """Yield the rows of a query through a server-side cursor, a batch at a time."""
        self._require_connection()
        try:
            if self._dialect.begin_stream is not None:
                await self._begin(self._dialect.begin_stream)
            async with self._conn.stream(statement, params) as result:
                async for row in result:
                    yield row
        except DRIVER_ERRORS as exc:
            raise self._failed(exc) from exc

    def _require_connection(self) -> None:
        """Refuse to use a lost connection. SQLAlchemy would raise PendingRollbackError (a usage
        error, not an outage), or, outside its transaction, reconnect: a statement meant for
        this transaction would then run alone, in autocommit."""
        if self._conn.invalidated:
            raise DependencyUnavailable("the database connection was lost") from self._failure

    async def _begin(self, sql: str) -> None:
        if not self._in_transaction:
            await self._conn.exec_driver_sql(sql)
            self._in_transaction = True

    async def commit(self) -> None:
        """Make the writes durable (nothing to do when there were none)."""
        if self._failure is not None:
            raise translate(self._failure) from self._failure
        self._require_connection()
        if not self._in_transaction:
            return
        self._in_transaction = False
        try:
            await self._conn.exec_driver_sql("COMMIT")
        except DRIVER_ERRORS as exc:
            await self._discard()  # the outcome is unknown: never reuse this connection
            raise translate(exc) from exc

    async def rollback(self) -> None:
        """Undo the writes; a connection that cannot roll back is thrown away instead."""
        if not self._in_transaction:
            return
        self._in_transaction = False
        if self._conn.invalidated:
            return  # the server ended the transaction along with the connection
        try:
            await self._conn.exec_driver_sql("ROLLBACK")
        except DRIVER_ERRORS:
            log.warning("rollback failed; discarding the connection", exc_info=True)
            await self._discard()

    async def close(self) -> None:
        """Return the connection to the pool."""
        try:
            await checkin(self._engine, self._conn)
        except DRIVER_ERRORS:
            log.warning("could not return a connection to the pool", exc_info=True)

    async def _discard(self) -> None:
        try:
            await self._conn.invalidate()
        except DRIVER_ERRORS:
            log.warning("could not discard a broken connection", exc_info=True)
