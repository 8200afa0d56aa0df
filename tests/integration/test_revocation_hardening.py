"""Revocations that cannot be outrun: two API processes on PostgreSQL and a Redis of their own,
which the tests kill, flush and squeeze. A revoked token or session must stay dead on both
instances whatever Redis does, and sockets must close even when the event that says so is lost.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from tests.integration.clients import (
    PASSWORD,
    Account,
    event_socket,
    grant,
    seconds_until_ready,
    sign_up,
)
from tests.integration.servers import (
    ApiServer,
    RedisServer,
    api_environment,
    logs_shown_on_failure,
    migrated_database,
    running_api_servers,
    running_redis_server,
)

pytestmark = pytest.mark.slow

POLICY_VIOLATION = 1008
RECHECK_BOUND_SECONDS = 15.0  # the sockets' periodic re-check (5 s), with room for the reconnect


@dataclass(frozen=True)
class Pair:
    a: ApiServer
    b: ApiServer
    redis: RedisServer


@pytest.fixture(scope="module")
def pair(
    postgres_url: str, redis_server_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    with (
        running_redis_server(redis_server_binary, tmp_path_factory.mktemp("redis")) as own,
        migrated_database(postgres_url, "revocations") as database_url,
    ):
        env = api_environment(database_url, own.url, LOGIN_LIMIT_PER_ADDRESS="10000")
        log_dir = tmp_path_factory.mktemp("revocations")
        with running_api_servers(["A", "B"], env, log_dir) as (a, b):
            yield Pair(a, b, own)


@pytest.fixture(autouse=True)
def _redis_up_and_logs(request: pytest.FixtureRequest, pair: Pair) -> Iterator[None]:
    if not pair.redis.answers():  # an earlier test failed half-way through an outage
        pair.redis.start()
    with logs_shown_on_failure(request, [pair.a, pair.b]):
        yield


@pytest.fixture
async def clients(pair: Pair) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        httpx.AsyncClient(base_url=pair.a.url, timeout=10, trust_env=False) as on_a,
        httpx.AsyncClient(base_url=pair.b.url, timeout=10, trust_env=False) as on_b,
    ):
        for client in (on_a, on_b):
            await seconds_until_ready(client)
        yield on_a, on_b


async def _status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.get("/api/v1/users/me", headers=headers)).status_code


async def test_sockets_of_a_session_revoked_while_redis_is_down_are_closed_on_both_instances(
    pair: Pair, clients: tuple[httpx.AsyncClient, httpx.AsyncClient]
) -> None:
    on_a, on_b = clients
    user = await sign_up(on_a, "outrun")
    async with (
        event_socket(pair.a, user.access_token) as on_a_socket,
        event_socket(pair.b, user.access_token) as on_b_socket,
    ):
        with pair.redis.down():
            logout = await on_a.post("/api/v1/auth/logout", headers=user.headers)
            assert logout.status_code == 204, logout.text
            # The instance that served the logout needs no Redis to close its own socket.
            assert await on_a_socket.close_code(timeout=5) == POLICY_VIOLATION
            assert await _status(on_a, user.headers) == 401
            assert await _status(on_b, user.headers) == 401  # B asks the database meanwhile
        started = time.monotonic()
        # B never heard the event: its socket closes when it re-checks the token.
        assert await on_b_socket.close_code(timeout=RECHECK_BOUND_SECONDS) == POLICY_VIOLATION
    print(f"\nSOCKET ON B CLOSED {time.monotonic() - started:.1f}s after redis returned")


@pytest.mark.parametrize("squeeze", ["flushall", "eviction"])
async def test_a_revoked_token_stays_refused_when_redis_loses_its_keys(
    pair: Pair, clients: tuple[httpx.AsyncClient, httpx.AsyncClient], squeeze: str
) -> None:
    on_a, on_b = clients
    user = await sign_up(on_a, f"evicted-{squeeze}")
    assert (await on_a.post("/api/v1/auth/logout", headers=user.headers)).status_code == 204
    other = await sign_up(on_b, f"reader-{squeeze}")
    item = await on_b.post("/api/v1/items", json={"title": "t"}, headers=other.headers)
    raw = redis.Redis.from_url(pair.redis.url)
    try:
        if squeeze == "flushall":
            raw.flushall()
        else:
            used = int(raw.info("memory")["used_memory"])
            raw.config_set("maxmemory-policy", "allkeys-lru")
            raw.config_set("maxmemory", str(used + 256 * 1024))
            for n in range(32):  # forces evictions of whatever Redis holds
                raw.set(f"filler:{n}", b"x" * 32 * 1024)
            assert int(raw.info("stats")["evicted_keys"]) > 0
            for _ in range(200):  # reads and writes as the trial did
                await on_b.get(item.headers["Location"], headers=other.headers)
    finally:
        raw.config_set("maxmemory", "0")
        raw.config_set("maxmemory-policy", "noeviction")
        raw.close()
    for client in (on_a, on_b):
        assert await _status(client, user.headers) == 401
    assert await _status(on_b, other.headers) == 200


async def test_reusing_a_refresh_token_kills_the_familys_access_tokens_on_both_instances(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    on_a, on_b = clients
    user: Account = await sign_up(on_a, "reused")
    stolen = {"grant_type": "refresh_token", "refresh_token": user.refresh_token}
    winner = await on_a.post("/api/v1/auth/token", data=stolen)
    assert winner.status_code == 200, winner.text
    assert (await on_b.post("/api/v1/auth/token", data=stolen)).status_code == 400  # the reuse
    other_session = await grant(on_a, user.email, PASSWORD)
    for token in (user.access_token, winner.json()["access_token"]):
        for client in (on_a, on_b):
            assert await _status(client, {"Authorization": f"Bearer {token}"}) == 401
    other = {"Authorization": f"Bearer {other_session['access_token']}"}
    assert await _status(on_b, other) == 200  # a session of the user made after, untouched
