"""The `uow_factory` fixture: every contract test runs on memory, SQLite and PostgreSQL alike.

SQLite gets a fresh copy of a database migrated once per session. PostgreSQL gets a database
of its own (`<name>_contract_<random>`, migrated once), emptied before each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.memory.events import RecordingPublisher
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.ports.types import UnitOfWorkFactory
from tests.contract.databases import (
    create_database,
    drop_database,
    empty_engine,
    run_blocking,
    sqlite_url,
)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the latest revision, copied for each test (migrating is slower)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def contract_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of the contract suite's own, at the latest revision."""
    url = run_blocking(create_database(postgres_url, "contract"))
    upgrade(url)
    yield url
    run_blocking(drop_database(postgres_url, url))


@pytest.fixture
def publisher() -> RecordingPublisher:
    """Every event the units of work released."""
    return RecordingPublisher()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def uow_factory(
    request: pytest.FixtureRequest, publisher: RecordingPublisher, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    """Makes fresh units of work over one empty store of the parametrised adapter."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: InMemoryUnitOfWork(store, publisher)
        return
    async with empty_engine(request, tmp_path) as engine:
        yield lambda: SqlAlchemyUnitOfWork(engine, publisher)
