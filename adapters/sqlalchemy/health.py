"""The database readiness check."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.errors import DRIVER_ERRORS
from application.errors import DependencyUnavailable

_SELECT_ONE = text("SELECT 1")


class SqlAlchemyHealthCheck:
    """Answers whether the database takes queries, within `timeout` seconds."""

    def __init__(self, engine: AsyncEngine, *, timeout: float = 2.0) -> None:
        self._engine, self._timeout = engine, timeout

    async def check(self) -> None:
        """Return if `SELECT 1` succeeds in time; otherwise raise DependencyUnavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                async with self._engine.connect() as conn:
                    await conn.execute(_SELECT_ONE)
        except DRIVER_ERRORS as exc:  # TimeoutError is an OSError
            raise DependencyUnavailable("the database is unavailable") from exc
