"""The PostgreSQL pool under load: a fixed set of connections, taken in turn, a bounded wait.

A full pool is back-pressure: the caller that waited too long gets a 503 with Retry-After
(answered as Overloaded, not as an outage) and the readiness check still passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory.events import RecordingPublisher
from adapters.sqlalchemy.checkout import checkin, checkout
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.health import SqlAlchemyHealthCheck
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.errors import DependencyBusy, Overloaded
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

PASSWORD = "correct horse battery"


def _uow(engine: AsyncEngine) -> SqlAlchemyUnitOfWork:
    return SqlAlchemyUnitOfWork(engine, RecordingPublisher())


async def test_callers_waiting_for_a_connection_get_it_in_arrival_order(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=1)
    served: list[str] = []

    async def caller(name: str) -> None:
        conn = await checkout(engine)
        served.append(name)
        await checkin(engine, conn)

    try:
        held = await checkout(engine)
        waiting = [asyncio.create_task(caller(f"waiter {n}")) for n in range(3)]
        await asyncio.sleep(0.05)  # all three are in line
        await checkin(engine, held)
        newcomer = asyncio.create_task(caller("newcomer"))  # arrives as the connection frees
        await asyncio.gather(*waiting, newcomer)
    finally:
        await engine.dispose()
    assert served == ["waiter 0", "waiter 1", "waiter 2", "newcomer"]


async def test_steady_load_beyond_the_pool_opens_no_connection_beyond_it(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=4)
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))

    async def reader() -> None:
        for _ in range(10):
            async with _uow(engine) as uow:
                await uow.users.count()

    try:
        await asyncio.gather(*(reader() for _ in range(40)))
    finally:
        await engine.dispose()
    assert len(opened) == 4


async def test_a_caller_that_waited_out_the_pool_timeout_is_busy_not_unavailable(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url, pool_size=1, pool_timeout=0.1)
    try:
        held = await checkout(engine)
        with pytest.raises(DependencyBusy) as raised:
            async with _uow(engine):
                pass
        await SqlAlchemyHealthCheck(engine, timeout=0.5).check()  # busy is not down
        await checkin(engine, held)
        async with _uow(engine) as uow:
            assert await uow.users.count() == 0
    finally:
        await engine.dispose()
    assert isinstance(raised.value, Overloaded)


@pytest.mark.parametrize(
    ("where", "tls"),
    [
        ("127.0.0.1:{port}/{db}", False),
        ("localhost:{port}/{db}", False),
        ("/{db}?host=/run/postgresql&port={port}", False),
        ("127.0.0.1:{port}/{db}?ssl=require", "require"),
        ("db.example.com:{port}/{db}", None),
    ],
)
async def test_tls_is_off_for_this_machines_server_unless_the_url_chooses(
    postgres_url: str, where: str, tls: object
) -> None:
    url = make_url(postgres_url)
    address = where.format(port=url.port, db=url.database)
    engine = create_engine(f"postgresql+asyncpg://{url.username}@{address}", pool_size=1)
    asked: dict[str, Any] = {}

    def do_connect(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        asked.update(params)
        raise ConnectionRefusedError("only the connect arguments are looked at")

    event.listen(engine.sync_engine, "do_connect", do_connect)
    try:
        with pytest.raises(Exception, match="connect arguments"):
            await engine.connect()
    finally:
        await engine.dispose()
    assert asked.get("ssl") == tls


@pytest.fixture
async def saturable_service(postgres_database_url: str) -> AsyncIterator[tuple[Any, Container]]:
    """The app with a pool of one connection and a short wait for it."""
    settings = Settings(
        environment="test",
        database_url=postgres_database_url,
        bcrypt_rounds=4,
        db_pool_size=1,
        db_pool_timeout_seconds=0.2,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    async with LifespanManager(create_app(container)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, container


async def test_a_full_pool_answers_503_with_retry_after_and_stays_ready(
    saturable_service: tuple[httpx.AsyncClient, Container],
) -> None:
    client, container = saturable_service
    body = {"email": "busy@example.com", "password": PASSWORD}
    assert (await client.post("/api/v1/auth/register", json=body)).status_code == 201
    form = {"grant_type": "password", "username": body["email"], "password": PASSWORD}
    token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/items", headers=auth)).status_code == 200

    engine = container.engine()
    held = await checkout(engine)  # a long request holds the only connection
    try:
        busy = await client.get("/api/v1/items", headers=auth)
        ready = await client.get("/health/ready")
    finally:
        await checkin(engine, held)
    after = await client.get("/api/v1/items", headers=auth)

    assert busy.status_code == 503
    assert int(busy.headers["Retry-After"]) >= 1
    assert busy.json()["type"] == "urn:portico:problem:overloaded"
    assert ready.status_code == 200, ready.text
    assert after.status_code == 200
