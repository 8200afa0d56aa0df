"""Engines and session factories for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_BUSY_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_SECONDS = 5.0
PING_AFTER_IDLE_SECONDS = 10.0

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)
_CHECKED_IN_AT = "portico_checked_in_at"


def create_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    echo: bool = False,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    """Return an AsyncEngine for `sqlite+aiosqlite://` or `postgresql+asyncpg://` URLs.

    Connections run in autocommit: the unit of work's `Transaction` opens a transaction itself
    at the first write (`BEGIN IMMEDIATE` on SQLite), so read-only work costs no BEGIN and
    ROLLBACK round trips. SQLite connections get WAL, enforced foreign keys and a busy timeout.
    PostgreSQL connections are pinged before reuse once idle for `ping_after_idle` seconds
    (0: always, like `pool_pre_ping`). Nothing connects until first use.
    """
    if make_url(url).get_backend_name() == "sqlite":
        engine = _create_async_engine(url, echo=echo, isolation_level="AUTOCOMMIT")
        event.listen(engine.sync_engine, "connect", _prepare_sqlite)
        return engine
    engine = _create_async_engine(
        url,
        echo=echo,
        isolation_level="AUTOCOMMIT",
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=ping_after_idle <= 0,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    if ping_after_idle > 0:
        _ping_idle_connections(engine, ping_after_idle)
    return engine


def _prepare_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """A pre-ping only for connections that sat idle: a busy pool pays no extra round trip."""
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    def checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is not None and time.monotonic() - checked_in_at > idle_seconds:
            _ping(dialect, dbapi_connection)

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def _ping(dialect: Dialect, dbapi_connection: Any) -> None:
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:
        # The server went away (restart, failover): drop every pooled connection, reconnect.
        raise InvalidatePoolError("idle connection failed its ping") from exc
