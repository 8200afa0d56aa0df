"""Driver failures leave the adapter as DependencyUnavailable or Conflict, never as themselves."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.events import RecordingPublisher
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.health import SqlAlchemyHealthCheck
from adapters.sqlalchemy.migrate import upgrade
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.errors import ApplicationError, Conflict, DependencyUnavailable
from tests.contract.builders import a_user, an_item, committed
from tests.contract.databases import sqlite_url


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return port


@pytest.fixture(params=["postgres", "sqlite"])
def unreachable_url(request: pytest.FixtureRequest, closed_port: int, tmp_path: Path) -> str:
    """A database URL that cannot be connected to."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "no" / "such" / "directory.db")
    return f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port}/portico"


def _assert_translated(error: ApplicationError) -> None:
    assert isinstance(error, DependencyUnavailable)
    assert error.__cause__ is not None  # raised `from` the driver's exception
    assert "sqlalchemy" not in str(error).lower()


async def test_an_unreachable_database_surfaces_as_dependency_unavailable(
    unreachable_url: str,
) -> None:
    engine = create_engine(unreachable_url, pool_size=1, max_overflow=0)
    try:
        with pytest.raises(DependencyUnavailable) as raised:
            async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()):
                pass
        _assert_translated(raised.value)
        with pytest.raises(DependencyUnavailable) as raised:
            await SqlAlchemyHealthCheck(engine, timeout=2).check()
        _assert_translated(raised.value)
    finally:
        await engine.dispose()
        # aiosqlite's worker thread reports a failed connect late: let it land before the
        # test's event loop closes, or it prints "Event loop is closed" from its thread.
        await asyncio.sleep(0.05)


async def test_migrating_an_unreachable_database_raises_dependency_unavailable(
    unreachable_url: str,
) -> None:
    with pytest.raises(DependencyUnavailable) as raised:
        upgrade(unreachable_url)
    _assert_translated(raised.value)


async def test_the_health_check_passes_on_a_live_database(engine: AsyncEngine) -> None:
    await SqlAlchemyHealthCheck(engine).check()


async def test_an_item_of_an_unknown_owner_is_refused_as_a_conflict(engine: AsyncEngine) -> None:
    """SQLite enforces foreign keys only when told to; the engine tells it."""
    orphan = an_item(a_user())
    with pytest.raises(Conflict):
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            await uow.items.add(orphan)


async def test_after_a_failed_statement_commit_refuses_and_keeps_nothing(
    engine: AsyncEngine,
) -> None:
    """PostgreSQL would turn COMMIT into a silent ROLLBACK, SQLite would commit the rest."""
    user = a_user()
    async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
        await uow.users.add(user)
        with pytest.raises(Conflict):
            await uow.items.add(an_item(a_user()))
        with pytest.raises(Conflict):
            await uow.commit()
    async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
        assert await uow.users.get(user.id) is None


async def _kill_connections(database_url: str) -> int:
    """Terminate the server side of every connection to the database; wait until they are gone."""
    url = make_url(database_url)
    admin_url = url.set(drivername="postgresql", database="postgres")
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    others = "FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
    try:
        killed = await admin.fetch(f"SELECT pg_terminate_backend(pid) {others}", url.database)
        while await admin.fetchval(f"SELECT count(*) {others}", url.database):
            await asyncio.sleep(0.01)
    finally:
        await admin.close()
    return len(killed)


async def test_a_connection_killed_under_a_read_fails_once_then_the_pool_recovers(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=2, max_overflow=0)
    user = a_user()
    try:
        await committed(lambda: SqlAlchemyUnitOfWork(engine, RecordingPublisher()), user)
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            await uow.users.count()  # the connection is checked out and in use
            assert await _kill_connections(postgres_database_url) >= 1
            with pytest.raises(DependencyUnavailable):
                await uow.users.get(user.id)
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            assert await uow.users.get(user.id) is not None
    finally:
        await engine.dispose()


async def test_an_idle_connection_the_server_dropped_is_replaced_unnoticed(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=2, max_overflow=0, ping_after_idle=0.01)
    user = a_user()
    try:
        await committed(lambda: SqlAlchemyUnitOfWork(engine, RecordingPublisher()), user)
        assert await _kill_connections(postgres_database_url) >= 1
        await asyncio.sleep(0.05)
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            assert await uow.users.get(user.id) is not None
    finally:
        await engine.dispose()


async def test_a_commit_on_a_killed_connection_fails_and_keeps_nothing(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=2, max_overflow=0)
    user = a_user()
    try:
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            await uow.users.add(user)
            await _kill_connections(postgres_database_url)
            with pytest.raises(DependencyUnavailable):
                await uow.commit()
        async with SqlAlchemyUnitOfWork(engine, RecordingPublisher()) as uow:
            assert await uow.users.get(user.id) is None
    finally:
        await engine.dispose()
