"""Engines and session factories for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from adapters.sqlalchemy.checkout import admit_in_turn

SQLITE_BUSY_TIMEOUT_MS = 5_000
CONNECT_TIMEOUT_SECONDS = 5.0
PING_AFTER_IDLE_SECONDS = 10.0
POOL_TIMEOUT_SECONDS = 5.0
POOL_RECYCLE_SECONDS = 3600.0

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
    max_overflow: int = 0,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
    pool_recycle: float = POOL_RECYCLE_SECONDS,
    echo: bool = False,
    ping_after_idle: float = PING_AFTER_IDLE_SECONDS,
) -> AsyncEngine:
    """Return an AsyncEngine for `sqlite+aiosqlite://` or `postgresql+asyncpg://` URLs.

    Connections run in autocommit: the unit of work's `Transaction` opens a transaction itself
    at the first write (`BEGIN IMMEDIATE` on SQLite), so read-only work costs no BEGIN and
    ROLLBACK round trips. SQLite connections get WAL, enforced foreign keys and a busy timeout.

    PostgreSQL: `pool_size` connections are kept open (plus `max_overflow` more under load,
    each closed again on return: keep it 0 so that steady load opens and closes none), each
    replaced after `pool_recycle` seconds (0: never). A caller finding all in use waits in line
    (see `checkout`) for up to `pool_timeout` seconds, then gets PoolTimeout. Connections are
    pinged before reuse once idle for `ping_after_idle` seconds (0: always, like
    `pool_pre_ping`). A loopback or unix-socket URL that does not choose TLS (`ssl`/`sslmode`)
    connects without it; any other keeps the URL's choice. Nothing connects until first use.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _create_async_engine(url, echo=echo, isolation_level="AUTOCOMMIT")
        event.listen(engine.sync_engine, "connect", _prepare_sqlite)
        return engine
    engine = _create_async_engine(
        parsed,
        echo=echo,
        isolation_level="AUTOCOMMIT",
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_recycle=pool_recycle if pool_recycle > 0 else -1,
        pool_pre_ping=ping_after_idle <= 0,
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            **_tls_choice(parsed),
            **_statement_cache(parsed),
        },
    )
    _check_out_live_connections(engine, ping_after_idle)
    admit_in_turn(engine, pool_size + max_overflow, pool_timeout)
    return engine


def _tls_choice(url: URL) -> dict[str, Any]:
    """`ssl=False` for this machine's own server unless the URL chooses; otherwise nothing.

    asyncpg's default (`prefer`) first asks every server for TLS, which costs a round trip
    (and, where the server offers TLS, a handshake) on each new connection.
    """
    if {"ssl", "sslmode"} & set(url.query):
        return {}
    host = url.query.get("host", url.host)  # `?host=/run/postgresql` names a unix socket
    if isinstance(host, str) and (host.startswith("/") or _is_loopback(host)):
        return {"ssl": False}
    return {}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _statement_cache(url: URL) -> dict[str, int]:
    """asyncpg's `statement_cache_size` from the URL (`?statement_cache_size=0` for PgBouncer
    in transaction mode before 1.21), as the integer asyncpg needs: SQLAlchemy passes URL
    values on as strings."""
    value = url.query.get("statement_cache_size")
    return {} if value is None else {"statement_cache_size": int(str(value))}


def _prepare_sqlite(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _check_out_live_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Hand out no connection the server has closed.

    One that asyncpg saw closed while it sat in the pool (a server restart, an administrator's
    `pg_terminate_backend`) is replaced at checkout, for free: asyncpg notices the close when it
    happens. One that sat idle longer than `idle_seconds` is pinged first (a silent network
    drop is noticed only then), so a busy pool pays no extra round trip.
    """
    pool, dialect = engine.sync_engine.pool, engine.sync_engine.dialect

    def checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        driver = record.driver_connection
        if driver is not None and driver.is_closed():
            raise DisconnectionError("the server closed this pooled connection")
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if (
            idle_seconds > 0
            and checked_in_at is not None
            and time.monotonic() - checked_in_at > idle_seconds
        ):
            _ping(dialect, dbapi_connection)

    event.listen(pool, "checkin", checkin)
    event.listen(pool, "checkout", checkout)


def _ping(dialect: Dialect, dbapi_connection: Any) -> None:
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as exc:
        # The server went away (restart, failover): drop every pooled connection, reconnect.
        raise InvalidatePoolError("idle connection failed its ping") from exc
