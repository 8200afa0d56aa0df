"""Portico through PgBouncer (Debian's, started by the test) in front of the throwaway
PostgreSQL: which pool modes and settings work, under concurrency.

The schema is migrated on PostgreSQL directly, never through PgBouncer: `portico migrate` is
one short-lived session that runs DDL (and may take session-level locks); a transaction pooler
gains it nothing and could hand its statements to different server connections.

The app runs in-process (the container and its lifespan, over ASGI) with the engine
`portico serve` builds, so each test starts in a fraction of a second. One PgBouncer serves
the same database under two names, one per pool mode. In session mode each of Portico's
connections holds a server connection for as long as it lives, so PgBouncer's pool for it must
be as large as Portico's (DB_POOL_SIZE; or the rest waits query_wait_timeout, then fails); in
transaction mode it is smaller (TRANSACTION_POOL_SIZE), and it is the real bound.

What works (see /work/notes/proxy.md):
- `pool_mode = session`: always.
- `pool_mode = transaction` with PgBouncer 1.21 or later and `max_prepared_statements`: asyncpg
  prepares every statement under a name, which such a PgBouncer keeps valid on every server
  connection. Debian 12 ships 1.18, so here that test is skipped.
- `pool_mode = transaction` with an older PgBouncer needs asyncpg's `statement_cache_size=0`
  (unnamed statements, parsed again with each execution): `?statement_cache_size=0` on
  DATABASE_URL, which the engine hands asyncpg as the number it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from sqlalchemy.engine import make_url

from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.integration.proxies import PgBouncer, pgbouncer_version, server_binary, shared_directory
from tests.integration.servers import database_dsn, migrated_database

pytestmark = pytest.mark.slow

DB_POOL_SIZE = 10  # Portico's connections to PgBouncer
TRANSACTION_POOL_SIZE = 4  # PgBouncer's server connections in transaction mode: fewer
QUERY_WAIT_SECONDS = 10  # PgBouncer's query_wait_timeout (120 s by default)
USERS = 24  # concurrent clients
PASSWORD = "correct horse battery"
SESSION, TRANSACTION = "portico_session", "portico_transaction"
PREPARED_STATEMENTS_SINCE = (1, 21)


@dataclass(frozen=True)
class Bouncer:
    pgbouncer: PgBouncer
    version: tuple[int, ...]
    database_url: str  # straight to PostgreSQL


@pytest.fixture(scope="module")
def bouncer(postgres_url: str) -> Iterator[Bouncer]:
    binary = server_binary("PORTICO_TEST_PGBOUNCER", "pgbouncer")
    version = pgbouncer_version(binary)
    run_as = os.environ.get("PORTICO_TEST_PG_USER") or ("postgres" if os.geteuid() == 0 else "")
    settings = {
        "max_client_conn": "500",
        "query_wait_timeout": str(QUERY_WAIT_SECONDS),
        "server_lifetime": "3600",
    }
    if version >= PREPARED_STATEMENTS_SINCE:
        settings["max_prepared_statements"] = "200"
    with (
        migrated_database(postgres_url, "pgbouncer") as database_url,  # directly: see above
        shared_directory("portico-pgbouncer-") as directory,
    ):
        database = make_url(database_url).database or ""
        pgbouncer = PgBouncer(
            binary,
            directory,
            database_url,
            {
                SESSION: (database, "session", DB_POOL_SIZE),
                TRANSACTION: (database, "transaction", TRANSACTION_POOL_SIZE),
            },
            settings,
            run_as=run_as,
        )
        pgbouncer.start()
        try:
            yield Bouncer(pgbouncer, version, database_url)
        finally:
            pgbouncer.stop()


@pytest.fixture(autouse=True)
def _log_on_failure(request: pytest.FixtureRequest, bouncer: Bouncer) -> Iterator[None]:
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        print(f"----- pgbouncer -----\n{bouncer.pgbouncer.log()[-4000:]}")


async def _server_connections(bouncer: Bouncer) -> int:
    """How many connections PgBouncer holds to the database on PostgreSQL."""
    conn = await asyncpg.connect(database_dsn(bouncer.database_url), ssl=False)
    try:
        database = make_url(bouncer.database_url).database
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        )
        return int(await conn.fetchval(query, database))
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _portico(database_url: str, storage: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app over `database_url`, in-process, with the engine and pool `portico serve` uses."""
    settings = Settings(
        environment="test",
        database_url=database_url,
        redis_url=None,
        bcrypt_rounds=4,
        bcrypt_max_waiting=4 * USERS,  # every user signs up at once: none is refused
        db_pool_size=DB_POOL_SIZE,
        storage_dir=str(storage),
        register_limit_per_address=10_000,
        login_limit_per_address=10_000,
    )
    container = Container()
    container.settings.override(providers.Object(settings))
    async with LifespanManager(create_app(container)) as manager:
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def _one_user(client: httpx.AsyncClient, n: int) -> None:
    """Register, sign in, create, change, read, list, delete and export, as one user."""
    email = f"bouncer-{n}-{os.urandom(4).hex()}@example.com"
    registered = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    token = await client.post("/api/v1/auth/token", data=form)
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}

    made = [
        await client.post("/api/v1/items", json={"title": f"{n}.{k}"}, headers=auth)
        for k in range(3)
    ]
    assert [r.status_code for r in made] == [201] * 3, made[-1].text
    first = made[0]
    changed = await client.patch(
        first.headers["Location"],
        json={"title": "changed"},
        headers={**auth, "If-Match": first.headers["ETag"]},
    )
    assert (changed.status_code, changed.json()["version"]) == (200, 2), changed.text
    read = await client.get(first.headers["Location"], headers=auth)
    assert read.json()["title"] == "changed"
    assert (await client.delete(made[1].headers["Location"], headers=auth)).status_code == 204
    listed = await client.get("/api/v1/items", headers=auth)
    assert listed.status_code == 200, listed.text
    assert listed.headers["X-Total-Count"] == "2"
    assert sorted(item["title"] for item in listed.json()) == sorted(["changed", f"{n}.2"])
    exported = await client.get("/api/v1/items/export", headers=auth)
    assert exported.status_code == 200, exported.text
    assert len(exported.text.splitlines()) == 2


async def _exercise(
    bouncer: Bouncer, database_url: str, storage: Path, server_connections: int
) -> None:
    before = await _server_connections(bouncer)  # another pool's, left idle by an earlier test
    async with _portico(database_url, storage) as client:
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        for _ in range(2):  # the second round on connections PgBouncer has handed around
            await asyncio.gather(*(_one_user(client, n) for n in range(USERS)))
    assert await _server_connections(bouncer) - before <= server_connections


async def test_session_pooling_serves_concurrent_users_with_the_default_settings(
    bouncer: Bouncer, tmp_path: Path
) -> None:
    await _exercise(bouncer, bouncer.pgbouncer.url(SESSION), tmp_path, DB_POOL_SIZE)


async def test_transaction_pooling_serves_concurrent_users_with_max_prepared_statements(
    bouncer: Bouncer, tmp_path: Path
) -> None:
    if bouncer.version < PREPARED_STATEMENTS_SINCE:
        pytest.skip(f"PgBouncer {bouncer.version} keeps no prepared statements (1.21 does)")
    await _exercise(bouncer, bouncer.pgbouncer.url(TRANSACTION), tmp_path, TRANSACTION_POOL_SIZE)


async def test_transaction_pooling_serves_concurrent_users_with_statement_cache_size_0(
    bouncer: Bouncer, tmp_path: Path
) -> None:
    url = bouncer.pgbouncer.url(TRANSACTION, "?statement_cache_size=0")
    try:
        await _exercise(bouncer, url, tmp_path, TRANSACTION_POOL_SIZE)
    except Exception as failure:
        # Reported without a traceback: formatting the long chain behind it (asyncpg through
        # SQLAlchemy's greenlets) can crash CPython 3.11.7's parser inside pytest.
        first_line = (str(failure).splitlines() or [""])[0]
        pytest.fail(f"{type(failure).__name__}: {first_line}", pytrace=False)
