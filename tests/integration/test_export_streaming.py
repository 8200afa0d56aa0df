"""The export on PostgreSQL through a real HTTP server (uvicorn, in this process): 100,000 items
stream through in flat memory, the first bytes leave while the database is still reading, a
client that disconnects gives the database connection back at once, and a database lost
midway cuts the download short where the client can see it."""

from __future__ import annotations

import asyncio
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from sqlalchemy.engine import make_url

from adapters.sqlalchemy.migrate import upgrade_async
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.contract.databases import create_database, drop_database

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = 100_000
PASSWORD = "correct horse battery"
EXPORT = "/api/v1/items/export"
_FILL = """
INSERT INTO items (id, owner_id, title, description, version, created_at, updated_at)
SELECT gen_random_uuid(), $1, 'item ' || n,
       CASE WHEN n % 3 > 0 THEN 'a note, with "quotes", number ' || n END, 1, at, at
FROM generate_series(1, $3) AS n, LATERAL (SELECT $2::timestamptz + n * interval '1 ms') AS t(at)
"""
_COPYING = """
SELECT state, wait_event FROM pg_stat_activity
WHERE query LIKE 'COPY (%' AND pid <> pg_backend_pid()
"""
_KILL_COPY = """
SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE query LIKE 'COPY (%' AND pid <> pg_backend_pid()
"""


@dataclass
class Served:
    url: str
    container: Container
    headers: dict[str, str]
    dsn: str

    def connections_in_use(self) -> int:
        return int(self.container.engine().sync_engine.pool.checkedout())  # type: ignore[attr-defined]

    async def settled(self, seconds: float = 1.0) -> float:
        """Wait until no connection is in use (or `seconds` pass); return how long it took."""
        started = time.monotonic()
        while self.connections_in_use() and time.monotonic() - started < seconds:
            await asyncio.sleep(0.005)
        return time.monotonic() - started

    async def copies(self) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(_COPYING))
        finally:
            await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(postgres_url: str) -> AsyncIterator[Served]:
    """The app over a database of its own, behind uvicorn on a free port, with one user who
    owns ITEMS items."""
    url = await create_database(postgres_url, "export")
    await upgrade_async(url)
    settings = Settings(  # no job runner: only the exports use the pool
        environment="test", database_url=url, bcrypt_rounds=4, db_pool_size=4, jobs_in_process=False
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)  # accepted ones inherit it
    sock.bind(("127.0.0.1", 0))
    app = create_app(container)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None))
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    async with LifespanManager(app):
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                await asyncio.sleep(0.01)
            base = f"http://127.0.0.1:{sock.getsockname()[1]}"
            headers = await _owner_of_many(base, dsn)
            yield Served(base, container, headers, dsn)
        finally:
            server.should_exit = True
            await task
            sock.close()
    await drop_database(postgres_url, url)


async def _owner_of_many(base: str, dsn: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        body = {"email": "exporter@example.com", "password": PASSWORD}
        user = (await client.post("/api/v1/auth/register", json=body)).json()
        form = {"grant_type": "password", "username": body["email"], "password": PASSWORD}
        token = (await client.post("/api/v1/auth/token", data=form)).json()["access_token"]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(_FILL, UUID(user["id"]), datetime(2026, 1, 1, tzinfo=UTC), ITEMS)
        await conn.execute("VACUUM ANALYZE items")
    finally:
        await conn.close()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
async def test_a_hundred_thousand_items_stream_through_in_flat_memory(served: Served, fmt: str):
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        lines = size = 0
        async with (
            httpx.AsyncClient(base_url=served.url, timeout=60) as client,
            client.stream("GET", EXPORT, params={"format": fmt}, headers=served.headers) as answer,
        ):
            async for chunk in answer.aiter_raw():
                lines += chunk.count(b"\n")
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.status_code == 200
    assert lines == ITEMS + (fmt == "csv")  # the header; no description holds a line break
    assert size > 10_000_000
    assert peak - before < 4_000_000, f"{(peak - before) / 1e6:.1f} MB for {size / 1e6:.0f} MB"
    await served.settled()
    assert served.connections_in_use() == 0


def _reluctant_client(served: Served) -> httpx.AsyncClient:
    """A client whose socket buffers little, as a client far away or slow to read does (on
    loopback the kernel would otherwise take in megabytes on the reader's behalf)."""
    small = [(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)]
    transport = httpx.AsyncHTTPTransport(socket_options=small)
    return httpx.AsyncClient(base_url=served.url, timeout=60, transport=transport)


async def test_the_first_bytes_leave_while_the_database_is_still_reading(served: Served):
    async with (
        _reluctant_client(served) as client,
        client.stream("GET", EXPORT, headers=served.headers) as answer,
    ):
        chunks = answer.aiter_raw()  # held: a dropped iterator would close the response
        first = await anext(chunks)
        for _ in range(100):  # the client reads no more: back-pressure reaches PostgreSQL
            copying = [(row["state"], row["wait_event"]) for row in await served.copies()]
            if copying != [("active", None)]:  # None: still filling the buffers on the way
                break
            await asyncio.sleep(0.02)

    assert first.startswith(b'{"id":"')
    assert copying == [("active", "ClientWrite")]


async def test_a_client_that_disconnects_gives_the_connection_back_at_once(served: Served):
    async with (
        _reluctant_client(served) as client,
        client.stream("GET", EXPORT, params={"format": "csv"}, headers=served.headers) as answer,
    ):
        chunks = answer.aiter_raw()  # held: a dropped iterator would close the response
        await anext(chunks)
        await asyncio.sleep(0.2)
        assert served.connections_in_use() == 1
        assert len(await served.copies()) == 1  # still under way when the client leaves
    left = time.monotonic()  # the client closed the connection, mid-export
    while served.connections_in_use() and time.monotonic() - left < 2:
        await asyncio.sleep(0.005)
    released = time.monotonic() - left

    while await served.copies() and time.monotonic() - left < 2:
        await asyncio.sleep(0.01)

    assert served.connections_in_use() == 0
    assert released < 0.5, f"released after {released:.3f} s"
    assert await served.copies() == []  # and the COPY has stopped on the server


async def test_a_database_lost_midway_cuts_the_download_short_visibly(served: Served):
    with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):  # noqa: PT012
        async with (
            _reluctant_client(served) as client,
            client.stream("GET", EXPORT, headers=served.headers) as answer,
        ):
            chunks = answer.aiter_raw()
            await anext(chunks)
            conn = await asyncpg.connect(served.dsn)
            try:
                await conn.execute(_KILL_COPY)
            finally:
                await conn.close()
            async for _ in chunks:  # what was under way still arrives, then the cut
                pass

    await served.settled()
    assert served.connections_in_use() == 0
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
        again = await client.get(EXPORT, params={"format": "csv"}, headers=served.headers)
    assert again.status_code == 200  # a fresh connection serves the next export
