"""Real databases for integration tests: a fresh SQLite file or a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrate import upgrade_async
from tests.contract.databases import create_database, drop_database, sqlite_url


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a database with no tables at all, dropped after the test."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "integration.db")
        return
    server_url = request.getfixturevalue("postgres_url")
    url = await create_database(server_url, "integration")
    yield url
    await drop_database(server_url, url)


@pytest.fixture
async def database_url(empty_database_url: str) -> str:
    """The URL of an empty database at the latest schema revision."""
    await upgrade_async(empty_database_url)
    return empty_database_url


@pytest.fixture
async def postgres_database_url(postgres_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database at the latest schema revision, dropped after the test."""
    url = await create_database(postgres_url, "integration")
    await upgrade_async(url)
    yield url
    await drop_database(postgres_url, url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The service's engine over the migrated database."""
    engine = create_engine(database_url, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()
