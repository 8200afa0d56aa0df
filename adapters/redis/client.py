"""One Redis connection pool per process, and the translation of Redis failures."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from application.errors import DependencyUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def create_client(
    url: str, *, timeout: float = 1.0, max_connections: int = 50, pool_timeout: float = 5.0
) -> Redis:
    """A client on a bounded pool that makes callers wait for a free connection.

    A busy pool is back-pressure: a caller waits (up to `pool_timeout`) for a connection to
    come back rather than failing, so load is never mistaken for an outage. Short socket
    timeouts bound what a dead Redis costs: `timeout` per call at most.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=15,
        decode_responses=False,
        # Once, at once, on a dropped connection only: a pooled connection that went stale
        # while Redis restarted is reopened instead of failing a request. (Not on timeouts:
        # a dead Redis still costs a request one `timeout` at most.)
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )
    return Redis.from_pool(pool)


def translated(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Turn any Redis failure raised by `fn` into DependencyUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, RedisError, OSError) as exc:
            raise DependencyUnavailable("redis is unavailable") from exc

    return wrapper


class RedisHealthCheck:
    """Readiness: Redis answers PING."""

    def __init__(self, client: Redis) -> None:
        self._client = client

    @translated
    async def check(self) -> None:
        """Return when Redis answers; raise DependencyUnavailable otherwise."""
        await self._client.ping()
