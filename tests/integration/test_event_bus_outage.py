"""The Redis event bus through an outage of its own Redis: a publish never fails the change
that made it, this process's subscribers still hear it at once, other processes hear it once
Redis is back, in order, and the outage is logged once, not once per event."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

import pytest
import redis

from adapters.redis.client import create_client
from adapters.redis.events import RedisEventBus
from domain.events import AccessRevoked, DomainEvent
from tests.integration.servers import RedisServer, running_redis_server

pytestmark = pytest.mark.slow

EVENTS = 50


@pytest.fixture
def own_redis(redis_server_binary: str, tmp_path) -> Iterator[RedisServer]:
    with running_redis_server(redis_server_binary, tmp_path) as server:
        yield server


async def _until(condition, timeout: float = 10.0) -> None:
    async def wait() -> None:
        while not condition():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def two_processes(own_redis: RedisServer):
    """Two processes' buses on one channel, each with its own client, and what each heard."""
    clients = [create_client(own_redis.url) for _ in range(2)]
    buses = [RedisEventBus(client, channel="outage") for client in clients]
    heard: list[list[DomainEvent]] = [[], []]
    for bus, bucket in zip(buses, heard, strict=True):
        bus.subscribe(lambda e, bucket=bucket: _append(bucket, e))
        await bus.start()
        await asyncio.wait_for(bus.connected.wait(), 5)
    yield buses, heard
    for bus in buses:
        await bus.stop()
    for client in clients:
        await client.aclose()


def _revocations(prefix: str) -> list[DomainEvent]:
    now = datetime.now(UTC)
    return [AccessRevoked(uuid4(), now, token_id=f"{prefix}{n}") for n in range(EVENTS)]


async def test_events_that_redis_would_not_take_reach_other_processes_in_order_later(
    own_redis: RedisServer, two_processes, caplog: pytest.LogCaptureFixture
) -> None:
    (here, _), (heard_here, heard_there) = two_processes
    events = _revocations("p")
    pauser = redis.Redis.from_url(own_redis.url)
    with caplog.at_level(logging.WARNING, logger="adapters.redis.events"):
        pauser.execute_command("CLIENT", "PAUSE", "3000", "WRITE")  # PUBLISH hangs: timeouts
        for event in events:
            await asyncio.wait_for(here.publish(event), 3)  # never raises, never hangs long
        assert heard_here == events  # this process heard each at once
        assert heard_there == []
        pauser.execute_command("CLIENT", "UNPAUSE")
        await _until(lambda: _distinct(heard_there) == events)
    pauser.close()
    assert here.held_total == EVENTS
    lost = [r for r in caplog.records if "cannot publish" in r.getMessage()]
    assert len(lost) == 1, [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks"
    assert any("publishes to redis again" in r.getMessage() for r in caplog.records)


async def test_while_redis_is_dead_publishing_neither_fails_nor_floods_the_log(
    own_redis: RedisServer, two_processes, caplog: pytest.LogCaptureFixture
) -> None:
    (here, there), (heard_here, heard_there) = two_processes
    events = _revocations("d")
    with caplog.at_level(logging.WARNING, logger="adapters.redis.events"):
        own_redis.kill()
        for event in events:
            await asyncio.wait_for(here.publish(event), 3)
        assert heard_here == events
        own_redis.start()
        await _until(lambda: here.connected.is_set() and there.connected.is_set())
        await _until(lambda: here.held_total == EVENTS and not here.holding)
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "cannot publish" in m]) == 1, messages
    assert not [r for r in caplog.records if r.exc_info], "no tracebacks in an outage"
    after = _revocations("a")[0]
    await here.publish(after)
    await _until(lambda: after in heard_there)  # back to normal without a restart


def _distinct(events: list[DomainEvent]) -> list[DomainEvent]:
    """Events in order of first arrival (a publish that timed out may still have landed)."""
    seen: list[DomainEvent] = []
    for event in events:
        if event not in seen:
            seen.append(event)
    return seen


async def test_a_saturated_pool_makes_publishes_wait_not_fail(own_redis: RedisServer) -> None:
    client, other = create_client(own_redis.url, max_connections=2), create_client(own_redis.url)
    bus, listener = RedisEventBus(client, "busy"), RedisEventBus(other, "busy")
    heard: list[DomainEvent] = []
    listener.subscribe(lambda e: _append(heard, e))
    await listener.start()
    await asyncio.wait_for(listener.connected.wait(), 5)
    now = datetime.now(UTC)
    events = [AccessRevoked(uuid4(), now, token_id=f"b{n}") for n in range(64)]
    try:
        await asyncio.gather(*(bus.publish(event) for event in events))
        assert bus.held_total == 0  # 64 concurrent publishes on 2 connections: all waited
        await _until(lambda: len(heard) == len(events))
        assert sorted(e.token_id for e in heard) == sorted(e.token_id for e in events)
    finally:
        await listener.stop()
        await client.aclose()
        await other.aclose()


async def _append(bucket: list[DomainEvent], event: DomainEvent) -> None:
    bucket.append(event)
