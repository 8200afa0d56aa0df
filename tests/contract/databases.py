"""Throwaway databases for the contract and integration suites, on the test server."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.tables import metadata

T = TypeVar("T")


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def sqlite_url(path: Path) -> str:
    """The aiosqlite URL of a database file."""
    return f"sqlite+aiosqlite:///{path}"


def _admin_dsn(server_url: str) -> str:
    return make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_database(server_url: str, purpose: str) -> str:
    """Create an empty database beside the one `server_url` names; return its URL."""
    url = make_url(server_url)
    name = f"{url.database}_{purpose}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database made by `create_database`, disconnecting whoever still uses it."""
    name = make_url(database_url).database
    conn = await asyncpg.connect(_admin_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@asynccontextmanager
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path, *, max_overflow: int = 4
) -> AsyncIterator[AsyncEngine]:
    """An engine over an empty, migrated database of the parametrised kind (`sqlite`: a copy
    of the migrated template; `postgres`: the contract database, emptied), disposed after."""
    if request.param == "sqlite":
        template = request.getfixturevalue("migrated_sqlite_template")
        url = sqlite_url(Path(shutil.copy(template, tmp_path / "contract.db")))
    else:
        url = request.getfixturevalue("contract_postgres_url")
    engine = create_engine(url, pool_size=4, max_overflow=max_overflow)
    try:
        if request.param == "postgres":
            async with engine.connect() as conn:
                for table in reversed(metadata.sorted_tables):  # children before parents
                    await conn.execute(table.delete())
        yield engine
    finally:
        await engine.dispose()
