"""A Redis outage degrades the API as the README's "Scaling out" says, and it recovers alone.

The module runs its own redis-server (so killing it disturbs no other test) and one API
process on it and PostgreSQL. Each test kills Redis (SIGKILL: a crash) and starts it again on
the same port; the API process is never restarted.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.integration.clients import (
    PASSWORD,
    RECOVERY_TIMEOUT_SECONDS,
    Account,
    EventSocket,
    bearer,
    event_socket,
    seconds_until_ready,
    sign_in,
    sign_up,
)
from tests.integration.servers import (
    ApiServer,
    RedisServer,
    api_environment,
    database_dsn,
    logs_shown_on_failure,
    migrated_database,
    running_api_servers,
    running_redis_server,
)

pytestmark = pytest.mark.slow

LOGIN_LIMIT_PER_ACCOUNT = 3


@pytest.fixture(scope="module")
def own_redis(
    redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    with running_redis_server(redis_server_binary, tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def outage_database_url(postgres_url: str) -> Iterator[str]:
    with migrated_database(postgres_url, "outage") as url:
        yield url


@pytest.fixture(scope="module")
def api(
    own_redis: RedisServer, outage_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    env = api_environment(
        outage_database_url,
        own_redis.url,
        LOGIN_LIMIT_PER_ACCOUNT=str(LOGIN_LIMIT_PER_ACCOUNT),
        LOGIN_LIMIT_PER_ADDRESS="10000",
    )
    with running_api_servers(["solo"], env, tmp_path_factory.mktemp("outage")) as (server,):
        yield server


@pytest.fixture(autouse=True)
def _redis_up_and_logs(
    request: pytest.FixtureRequest, own_redis: RedisServer, api: ApiServer
) -> Iterator[None]:
    if not own_redis.answers():  # an earlier test failed half-way through an outage
        own_redis.start()
    api.wait_ready()
    with logs_shown_on_failure(request, [api]):
        yield


@pytest.fixture
async def client(api: ApiServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=10, trust_env=False) as client:
        yield client


async def stored_item_ids(outage_database_url: str, owner: Account) -> set[str]:
    conn = await asyncpg.connect(database_dsn(outage_database_url))
    try:
        rows = await conn.fetch("SELECT id::text FROM items WHERE owner_id::text = $1", owner.id)
    finally:
        await conn.close()
    return {row[0] for row in rows}


class Traffic:
    """Authenticated reads and writes in a loop, remembering every answer."""

    def __init__(self, client: httpx.AsyncClient, user: Account, item_id: str) -> None:
        self.client, self.user, self.item_id = client, user, item_id
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.accepted: set[str] = set()
        self.last_title = "read me"
        self.unavailable_without_retry_after = 0
        self._stop = asyncio.Event()

    async def run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            created = await self._send("POST", "/api/v1/items", json={"title": f"t{n}"})
            if created.status_code == 201:
                self.accepted.add(created.json()["id"])
            await self._send("GET", f"/api/v1/items/{self.item_id}")
            url = f"/api/v1/items/{self.item_id}"
            if (await self._send("PATCH", url, json={"title": f"p{n}"})).status_code == 200:
                self.last_title = f"p{n}"
            await self._send("GET", "/api/v1/users/me")
            await asyncio.sleep(0.01)

    async def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        response = await self.client.request(method, url, headers=self.user.headers, **kwargs)  # type: ignore[arg-type]
        self.statuses[method, response.status_code] += 1
        if response.status_code == 503 and "Retry-After" not in response.headers:
            self.unavailable_without_retry_after += 1
        return response

    def stop(self) -> None:
        self._stop.set()


async def test_no_request_fails_with_500_through_a_redis_outage_and_accepted_writes_are_kept(
    client: httpx.AsyncClient, own_redis: RedisServer, outage_database_url: str
) -> None:
    user = await sign_up(client, "busy")
    item = await client.post("/api/v1/items", json={"title": "read me"}, headers=user.headers)
    traffic = Traffic(client, user, item.json()["id"])
    task = asyncio.create_task(traffic.run())
    try:
        await asyncio.sleep(0.3)
        with own_redis.down():
            await asyncio.sleep(1.5)
        await seconds_until_ready(client)
        await asyncio.sleep(0.5)
    finally:
        traffic.stop()
        await task

    print(f"\nREDIS OUTAGE traffic answers: {dict(traffic.statuses)}")
    statuses = {status for _, status in traffic.statuses}
    assert statuses <= {200, 201, 503}, traffic.statuses
    assert traffic.unavailable_without_retry_after == 0  # every 503 said when to retry
    assert traffic.accepted  # writes were accepted before and after it
    assert traffic.accepted <= await stored_item_ids(outage_database_url, user)
    final = await client.get(f"/api/v1/items/{traffic.item_id}", headers=user.headers)
    assert final.json()["title"] == traffic.last_title  # the last accepted change stuck


async def test_while_redis_is_down_readiness_names_redis_and_requests_are_served(
    client: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    user = await sign_up(client, "patient")
    with own_redis.down():
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"
        assert ready.json()["checks"]["redis"] != "ok"

        assert (await client.get("/api/v1/users/me", headers=user.headers)).status_code == 200
        created = await client.post("/api/v1/items", json={"title": "t"}, headers=user.headers)
        assert created.status_code == 201, created.text
        read = await client.get(created.headers["Location"], headers=user.headers)
        assert (read.status_code, read.json()) == (200, created.json())  # from the database


async def test_revocations_hold_during_a_redis_outage_and_after_redis_returns_empty(
    client: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    user = await sign_up(client, "revoker")
    before = user.headers
    during = bearer(await sign_in(client, user.email))
    kept = bearer(await sign_in(client, user.email))
    assert (await client.post("/api/v1/auth/logout", headers=before)).status_code == 204

    with own_redis.down():
        assert (await client.get("/api/v1/users/me", headers=before)).status_code == 401
        assert (await client.post("/api/v1/auth/logout", headers=during)).status_code == 204
        assert (await client.get("/api/v1/users/me", headers=during)).status_code == 401
        assert (await client.get("/api/v1/users/me", headers=kept)).status_code == 200

    await seconds_until_ready(client)  # Redis is back, with none of its keys
    for revoked in (before, during):
        refused = await client.get("/api/v1/users/me", headers=revoked)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/api/v1/users/me", headers=kept)).status_code == 200


async def test_a_change_made_while_redis_is_down_is_what_reads_show_once_it_returns_with_its_data(
    client: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    user = await sign_up(client, "editor")
    created = await client.post("/api/v1/items", json={"title": "before"}, headers=user.headers)
    url = created.headers["Location"]
    assert (await client.get(url, headers=user.headers)).json()["title"] == "before"  # cached

    with own_redis.down(keep_data=True):
        changed = await client.patch(url, json={"title": "during"}, headers=user.headers)
        assert changed.status_code == 200, changed.text

    await seconds_until_ready(client)
    read = await client.get(url, headers=user.headers)
    assert (read.json()["title"], read.headers["ETag"]) == ("during", changed.headers["ETag"])


async def test_while_redis_is_down_sign_in_works_and_login_limits_count_per_process(
    client: httpx.AsyncClient, own_redis: RedisServer
) -> None:
    user = await sign_up(client, "signer")
    form = {"grant_type": "password", "username": user.email, "password": PASSWORD}
    with own_redis.down():
        signed_in = await client.post("/api/v1/auth/token", data=form)
        assert signed_in.status_code == 200, signed_in.text
        assert signed_in.json()["token_type"] == "bearer"

        wrong = {**form, "password": "not the password"}
        for _ in range(LOGIN_LIMIT_PER_ACCOUNT):
            assert (await client.post("/api/v1/auth/token", data=wrong)).status_code == 400
        limited = await client.post("/api/v1/auth/token", data=form)
        assert limited.status_code == 429, limited.text
        assert int(limited.headers["Retry-After"]) > 0


async def test_after_redis_returns_the_api_recovers_without_a_restart(
    client: httpx.AsyncClient, api: ApiServer, own_redis: RedisServer
) -> None:
    user = await sign_up(client, "survivor")
    async with event_socket(api, user.access_token) as socket:
        created = await client.post("/api/v1/items", json={"title": "v1"}, headers=user.headers)
        url = f"/api/v1/items/{created.json()['id']}"
        await until_a_change_is_heard(client, socket, url, user)  # events flow before...
        with own_redis.down():
            await asyncio.sleep(1.0)  # long enough for the event-bus listener to back off
        back = time.monotonic()
        ready_after = await seconds_until_ready(client)

        version = (await client.get(url, headers=user.headers)).json()["version"]
        for _ in range(2):  # a read that fills the cache, then one served from it
            read = await client.get(url, headers=user.headers)
            assert (read.status_code, read.json()["version"]) == (200, version), read.text
        patched = await client.patch(url, json={"title": "after"}, headers=user.headers)
        assert patched.status_code == 200, patched.text
        read = await client.get(url, headers=user.headers)
        assert (read.json()["title"], read.json()["version"]) == ("after", version + 1)

        await until_a_change_is_heard(client, socket, url, user)  # ...and after
        events_after = time.monotonic() - back
    print(
        f"\nREDIS RECOVERY ready_after={ready_after:.2f}s events_after={events_after:.2f}s"
        " (from redis-server accepting connections again)"
    )


async def until_a_change_is_heard(
    client: httpx.AsyncClient, socket: EventSocket, url: str, user: Account
) -> None:
    """PATCH until the socket hears of the change just made. Events published while the
    event-bus listener is not subscribed are lost (README), so earlier ones may not arrive."""
    deadline, attempt = time.monotonic() + RECOVERY_TIMEOUT_SECONDS, 0
    while time.monotonic() < deadline:
        attempt += 1  # a new title each time: an unchanged item makes no event
        patched = await client.patch(url, json={"title": f"try {attempt}"}, headers=user.headers)
        assert patched.status_code == 200, patched.text
        version = patched.json()["version"]
        while (event := await socket.message_within(0.5)) is not None:
            assert event["item"]["id"] == patched.json()["id"], event
            if event["item"]["version"] == version:
                assert event["type"] == "item.updated", event
                return
            assert event["item"]["version"] < version, event
    pytest.fail(f"no WebSocket event within {RECOVERY_TIMEOUT_SECONDS} s", pytrace=False)
