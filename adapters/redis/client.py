"""One Redis connection pool per process, and the translation of Redis failures."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from application.errors import DependencyUnavailable

P = ParamSpec("P")
T = TypeVar("T")


def create_client(url: str, *, timeout: float = 1.0, max_connections: int = 50) -> Redis:
    """A client with short timeouts, so a dead Redis costs a request a second at most."""
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        health_check_interval=15,
        decode_responses=False,
        # Once, at once, on a dropped connection only: a pooled connection that went stale
        # while Redis restarted is reopened instead of failing a request. (Not on timeouts:
        # a dead Redis still costs a request one `timeout` at most.)
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    )


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
