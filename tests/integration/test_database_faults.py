"""PostgreSQL ending connections under a running service is a 503, never a 500, and it heals.

The server side of a connection is ended with `pg_terminate_backend`, from a connection of
the test's own, as an administrator or a server restart (`pg_ctl restart -m fast`) would end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.events import RecordingPublisher
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.errors import DependencyUnavailable
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.contract.builders import a_user, an_item, committed

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery"
WRITERS = 8
STORM_SECONDS = 3.0
KILL_EVERY_SECONDS = (0.005, 0.04)
ITEMS = "/api/v1/items"


@contextlib.asynccontextmanager
async def administrator(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the server's `postgres` database, outside the service's pool."""
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        yield conn
    finally:
        await conn.close()


async def terminate_backends(admin: asyncpg.Connection, database_url: str) -> int:
    """End the server side of every connection to the database; how many there were."""
    rows = await admin.fetch(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        make_url(database_url).database,
    )
    return sum(1 for row in rows if row[0])


async def kill_under(database_url: str) -> int:
    """Terminate the database's backends and let asyncpg see its sockets close."""
    async with administrator(database_url) as admin:
        killed = await terminate_backends(admin, database_url)
    await asyncio.sleep(0.05)
    return killed


@pytest.fixture
async def engine(postgres_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_database_url, pool_size=2, max_overflow=0)
    yield engine
    await engine.dispose()


def _uow(engine: AsyncEngine) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine, RecordingPublisher())


async def test_a_statement_after_the_connection_was_lost_is_unavailable_and_keeps_nothing(
    engine: AsyncEngine, postgres_database_url: str
) -> None:
    owner = a_user()
    async with _uow(engine) as uow:  # and leaving it raises nothing
        await uow.users.add(owner)
        assert await kill_under(postgres_database_url) >= 1
        with pytest.raises(DependencyUnavailable):
            await uow.items.add(an_item(owner))
        with pytest.raises(DependencyUnavailable):
            await uow.items.add(an_item(owner))  # the transaction is gone: so is this
    async with _uow(engine) as uow:
        assert await uow.users.get(owner.id) is None


async def test_a_read_after_the_connection_was_lost_is_unavailable(
    engine: AsyncEngine, postgres_database_url: str
) -> None:
    async with _uow(engine) as uow:
        await uow.users.count()
        await kill_under(postgres_database_url)
        with pytest.raises(DependencyUnavailable):
            await uow.users.count()
        with pytest.raises(DependencyUnavailable):
            await uow.users.count()


async def test_commit_after_a_lost_write_is_unavailable_and_leaving_raises_nothing_else(
    engine: AsyncEngine, postgres_database_url: str
) -> None:
    owner = a_user()
    async with _uow(engine) as uow:
        await uow.users.add(owner)
        await kill_under(postgres_database_url)
        with pytest.raises(DependencyUnavailable):
            await uow.items.add(an_item(owner))
        with pytest.raises(DependencyUnavailable):
            await uow.commit()
    async with _uow(engine) as uow:
        assert await uow.users.get(owner.id) is None


async def test_pooled_connections_the_server_closed_are_replaced_unnoticed(
    engine: AsyncEngine, postgres_database_url: str
) -> None:
    owner = a_user()
    await committed(lambda: _uow(engine), owner)
    assert await kill_under(postgres_database_url) >= 1
    async with _uow(engine) as uow:
        assert await uow.users.get(owner.id) is not None


# --- the whole service --------------------------------------------------------------------


@pytest.fixture
async def service(postgres_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the database, in process; a 500 comes back as a response."""
    settings = Settings(
        environment="test",
        database_url=postgres_database_url,
        bcrypt_rounds=4,
        db_pool_size=4,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    async with LifespanManager(create_app(container)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _signed_in(client: httpx.AsyncClient) -> dict[str, str]:
    body = {"email": "writer@example.com", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 201
    form = {"grant_type": "password", "username": body["email"], "password": PASSWORD}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _write(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> httpx.Response:
    """Create an item, or change one: both open a transaction."""
    if n % 2 == 0:
        return await client.post(ITEMS, json={"title": f"item {n}"}, headers=headers)
    listed = await client.get(ITEMS, params={"limit": 1}, headers=headers)
    if listed.status_code != 200 or not listed.json():
        return listed
    item_id = listed.json()[0]["id"]
    return await client.patch(f"{ITEMS}/{item_id}", json={"title": f"t{n}"}, headers=headers)


async def test_writes_while_the_server_ends_connections_get_503s_never_500s_then_recover(
    service: httpx.AsyncClient, postgres_database_url: str
) -> None:
    headers = await _signed_in(service)
    statuses: Counter[int] = Counter()
    unavailable: list[httpx.Response] = []
    storm_over = asyncio.Event()

    async def writer(seed: int) -> None:
        n = seed
        while not storm_over.is_set():
            response = await _write(service, headers, n)
            statuses[response.status_code] += 1
            if response.status_code == 503:
                unavailable.append(response)
            n += WRITERS

    async def killer() -> int:
        killed = 0
        async with administrator(postgres_database_url) as admin:
            deadline = time.monotonic() + STORM_SECONDS
            while time.monotonic() < deadline:
                await asyncio.sleep(random.uniform(*KILL_EVERY_SECONDS))
                killed += await terminate_backends(admin, postgres_database_url)
        storm_over.set()
        return killed

    killed, *_ = await asyncio.gather(killer(), *(writer(n) for n in range(WRITERS)))

    assert killed > 0
    assert set(statuses) <= {200, 201, 503}, statuses
    assert statuses[503] > 0, statuses  # the faults did land on requests in flight
    assert statuses[200] + statuses[201] > 0, statuses
    for response in unavailable:
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["type"] == "urn:portico:problem:unavailable"
    await asyncio.sleep(0.05)  # asyncpg sees the last terminated sockets close
    after = [await _write(service, headers, n) for n in range(20)]
    assert [r.status_code for r in after] == [201, 200] * 10
