"""Shared-state ports behave alike in every adapter: the denylist (this process's copy and the
durable store on both databases), rate limits and the event bus (memory and Redis); and the
item cache, which is always this process's own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from uuid import uuid4

import pytest
from redis.asyncio import Redis

from adapters.limits.rate_limiter import LimitsRateLimiter
from adapters.memory.cache import InMemoryItemCache
from adapters.memory.clock import FrozenClock
from adapters.memory.events import InProcessEventBus
from adapters.memory.sessions import InMemoryTokenDenylist
from adapters.redis.client import create_client
from adapters.redis.events import RedisEventBus
from adapters.sqlalchemy.denylist import SqlAlchemyTokenDenylist
from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrate import upgrade_async
from adapters.sqlalchemy.tables import access_revocations
from adapters.system.clock import SystemClock
from application.dto import ItemView
from application.ports import AccessClaims, RateLimit
from domain.events import AccessRevoked, ItemCreated, ItemSnapshot, UserChanged
from tests.contract.databases import sqlite_url

BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
async def redis_client(backend, request) -> AsyncIterator[Redis | None]:
    """An emptied Redis for the redis backend; None for memory."""
    if backend != "redis":
        yield None
        return
    client = create_client(request.getfixturevalue("redis_url"))
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> SystemClock:
    return SystemClock()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def denylist(request, clock, tmp_path):
    """Every TokenDenylist adapter: the process's copy and the durable one, on both databases."""
    kind = request.param
    if kind == "memory":
        yield InMemoryTokenDenylist(clock)
        return
    url = (
        sqlite_url(tmp_path / "denylist.db")
        if kind == "sqlite"
        else request.getfixturevalue("contract_postgres_url")
    )
    await upgrade_async(url)
    engine = create_engine(url, pool_size=2, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(access_revocations.delete())
    yield SqlAlchemyTokenDenylist(engine, clock)
    await engine.dispose()


def _claims(clock, user_id=None, token_id=None, issued_offset=0.0) -> AccessClaims:
    now = clock.now()
    return AccessClaims(
        user_id or uuid4(),
        token_id or uuid4().hex,
        now + timedelta(seconds=issued_offset),
        now + timedelta(seconds=600),
    )


async def test_a_revoked_token_is_revoked_and_others_are_not(denylist, clock):
    revoked, other = _claims(clock), _claims(clock)
    await denylist.revoke_token(revoked.token_id, revoked.expires_at)
    assert await denylist.is_revoked(revoked)
    assert not await denylist.is_revoked(other)


async def test_a_second_revocation_of_one_token_is_harmless(denylist, clock):
    revoked = _claims(clock)
    await denylist.revoke_token(revoked.token_id, revoked.expires_at)
    await denylist.revoke_token(revoked.token_id, revoked.expires_at)
    assert await denylist.is_revoked(revoked)


async def test_revoking_a_session_revokes_its_tokens_and_no_others(denylist, clock):
    session, user = uuid4(), uuid4()
    first, later = (
        AccessClaims(user, uuid4().hex, clock.now(), clock.now() + timedelta(seconds=600), session)
        for _ in range(2)
    )
    elsewhere = AccessClaims(user, uuid4().hex, clock.now(), first.expires_at, uuid4())
    await denylist.revoke_session(session, clock.now() + timedelta(seconds=600))
    assert await denylist.is_revoked(first)
    assert await denylist.is_revoked(later)
    assert not await denylist.is_revoked(elsewhere)
    assert not await denylist.is_revoked(_claims(clock, user))  # a token with no session


async def test_revoking_a_user_spares_the_kept_token_and_later_ones(denylist, clock):
    user = uuid4()
    old, kept = _claims(clock, user, issued_offset=-5), _claims(clock, user, issued_offset=-5)
    await denylist.revoke_user(user, clock.now(), keep_token_id=kept.token_id, ttl_seconds=600)
    later = _claims(clock, user, issued_offset=0.001)
    stranger = _claims(clock, issued_offset=-5)
    assert await denylist.is_revoked(old)
    assert not await denylist.is_revoked(kept)
    assert not await denylist.is_revoked(later)
    assert not await denylist.is_revoked(stranger)


async def test_an_older_user_wide_revocation_never_replaces_a_newer_one(denylist, clock):
    user = uuid4()
    between = _claims(clock, user, issued_offset=-5)
    kept = _claims(clock, user, issued_offset=-20)
    await denylist.revoke_user(user, clock.now(), keep_token_id=kept.token_id, ttl_seconds=600)
    older = clock.now() - timedelta(seconds=10)
    await denylist.revoke_user(user, older, keep_token_id=between.token_id, ttl_seconds=600)
    assert await denylist.is_revoked(between)  # still revoked by the newer entry
    assert not await denylist.is_revoked(kept)  # the newer entry's kept token is still kept


async def test_a_newer_user_wide_revocation_replaces_an_older_one_and_its_kept_token(
    denylist, clock
):
    user = uuid4()
    between = _claims(clock, user, issued_offset=-5)
    kept = _claims(clock, user, issued_offset=-20)
    older = clock.now() - timedelta(seconds=10)
    await denylist.revoke_user(user, older, keep_token_id=kept.token_id, ttl_seconds=600)
    assert not await denylist.is_revoked(between)
    await denylist.revoke_user(user, clock.now(), keep_token_id=None, ttl_seconds=600)
    assert await denylist.is_revoked(between)
    assert await denylist.is_revoked(kept)


async def test_an_older_user_wide_revocation_never_shortens_the_newer_ones_life(denylist, clock):
    user = uuid4()
    old = _claims(clock, user, issued_offset=-5)
    await denylist.revoke_user(user, clock.now(), keep_token_id=None, ttl_seconds=600)
    older = clock.now() - timedelta(seconds=10)
    await denylist.revoke_user(user, older, keep_token_id=None, ttl_seconds=1)
    await asyncio.sleep(1.1)  # real time: the databases compare with their own clock
    assert await denylist.is_revoked(old)


@pytest.fixture
def cache():
    return InMemoryItemCache(SystemClock(), ttl_seconds=60)


def _snapshot(**changes) -> ItemSnapshot:
    now = SystemClock().now()
    base = ItemSnapshot(uuid4(), uuid4(), "title ✓", None, 1, now, now)
    return replace(base, **changes)


def _view(**changes) -> ItemView:
    return ItemView.of(_snapshot(**changes))


async def test_cache_round_trips_an_item_exactly(cache):
    view = _view(description="multi\nline «text»")
    await cache.put(view)
    assert await cache.get(view.id) == view
    assert await cache.get(uuid4()) is None


async def test_cache_keeps_the_newest_version_whatever_the_order_of_writes(cache):
    v1 = _view()
    v2 = replace(v1, title="second", version=2)
    await cache.put(v2)
    await cache.put(v1)
    assert (await cache.get(v1.id)).version == 2


async def test_a_forgotten_item_stays_forgotten(cache):
    view = _view()
    await cache.put(view)
    await cache.forget(view.id)
    await cache.put(replace(view, version=2))
    assert await cache.get(view.id) is None


async def test_cache_counts_hits_and_misses(cache):
    view = _view()
    await cache.get(view.id)
    await cache.put(view)
    await cache.get(view.id)
    assert (cache.hits, cache.misses) == (1, 1)


async def test_cache_holds_at_most_its_bound_dropping_the_least_recently_used():
    cache = InMemoryItemCache(SystemClock(), ttl_seconds=60, max_entries=100)
    views = [_view() for _ in range(150)]
    for view in views[:100]:
        await cache.put(view)
    assert await cache.get(views[0].id) == views[0]  # used again: kept
    for view in views[100:]:
        await cache.put(view)
    assert await cache.get(views[0].id) == views[0]
    assert await cache.get(views[1].id) is None
    assert await cache.get(views[-1].id) == views[-1]


async def test_cache_holds_nothing_while_events_cannot_be_heard_and_starts_empty_after(cache):
    kept = _view()
    await cache.put(kept)
    cache.link_down()
    assert await cache.get(kept.id) is None
    during = _view()
    await cache.put(during)
    assert await cache.get(during.id) is None
    await cache.link_up(after_loss=True)
    assert await cache.get(kept.id) is None
    await cache.put(during)
    assert await cache.get(during.id) == during


@pytest.fixture
def limiter(redis_client, request):
    if redis_client is None:
        return LimitsRateLimiter("memory://")
    return LimitsRateLimiter(request.getfixturevalue("redis_url"))


async def test_rate_limit_allows_the_amount_then_says_how_long_to_wait(limiter):
    limit = RateLimit(f"t{uuid4().hex}", 3, 60)
    assert [await limiter.hit(limit, "k") for _ in range(3)] == [None, None, None]
    wait = await limiter.hit(limit, "k")
    assert wait is not None
    assert 1 <= wait <= 60
    assert await limiter.hit(limit, "other") is None
    await limiter.reset(limit, "k")
    assert await limiter.hit(limit, "k") is None


@pytest.fixture
async def buses(redis_client):
    """Two processes' buses on one channel (for memory, the one process's bus twice)."""
    if redis_client is None:
        bus = InProcessEventBus()
        yield bus, bus
        return
    channel = f"c{uuid4().hex}"
    pair = (RedisEventBus(redis_client, channel=channel), RedisEventBus(redis_client, channel))
    for bus in pair:
        await bus.start()
        await asyncio.wait_for(bus.connected.wait(), 5)
    yield pair
    for bus in pair:
        await bus.stop()


async def test_the_bus_delivers_events_to_every_subscriber_of_every_process_in_order(buses):
    here, there = buses
    got: list[list] = [[], [], []]
    unsubscribe = [
        bus.subscribe(lambda e, n=n: _append(got[n], e))
        for n, bus in enumerate((here, there, there))
    ]
    now = SystemClock().now()
    events = [ItemCreated(_snapshot(version=n + 1), now) for n in range(3)]
    events.append(AccessRevoked(uuid4(), now, token_id="jti"))
    events.append(AccessRevoked(uuid4(), now, session_id=uuid4()))
    events.append(AccessRevoked(uuid4(), now, keep_token_id="kept"))
    events.append(UserChanged(uuid4(), now))
    for event in events:
        await here.publish(event)
    assert got[0] == events  # this process's subscribers have them when publish returns
    await _until(lambda: len(got[1]) == len(got[2]) == len(events))
    assert got[1] == got[2] == events
    unsubscribe[1]()
    await here.publish(events[0])
    await _until(lambda: len(got[2]) == len(events) + 1)
    await asyncio.sleep(0.05)
    assert len(got[1]) == len(events)
    assert len(got[0]) == len(events) + 1  # once each: its own event did not come back twice


async def _append(bucket: list, event) -> None:
    bucket.append(event)


async def _until(condition, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


def test_frozen_clock_only_moves_when_told():
    clock = FrozenClock()
    start = clock.now()
    clock.advance(5)
    assert clock.now() - start == timedelta(seconds=5)
