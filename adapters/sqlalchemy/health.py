"""The database readiness check."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.checkout import checkin, checkout, every_connection_serving
from adapters.sqlalchemy.errors import DRIVER_ERRORS
from application.errors import DependencyUnavailable

_SELECT_ONE = text("SELECT 1")


class SqlAlchemyHealthCheck:
    """Answers whether the database takes queries, within `timeout` seconds."""

    def __init__(self, engine: AsyncEngine, *, timeout: float = 2.0) -> None:
        self._engine, self._timeout = engine, timeout

    async def check(self) -> None:
        """Return if `SELECT 1` succeeds in time, or at once if every connection is serving a
        request (load, not an outage: should the server go away, those requests fail, free
        their connections, and the next check fails); otherwise raise DependencyUnavailable."""
        if every_connection_serving(self._engine):
            return
        conn = None
        try:
            async with asyncio.timeout(self._timeout):
                conn = await checkout(self._engine)
                await conn.execute(_SELECT_ONE)
        except DRIVER_ERRORS as exc:  # TimeoutError is an OSError; PoolTimeout is here too
            if conn is None and every_connection_serving(self._engine):
                return  # the pool filled up with requests while this check waited in line
            raise DependencyUnavailable("the database is unavailable") from exc
        finally:
            if conn is not None:
                await checkin(self._engine, conn)
