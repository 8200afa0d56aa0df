"""RateLimiter on `limits`: a well-kept library, so window arithmetic is not ours to get wrong.

The storage URI picks where counts live: `memory://` for one process, `redis://...` for
every process sharing one Redis.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string
from redis.exceptions import RedisError

from application.ports.rate_limits import RateLimit

log = logging.getLogger(__name__)
_STORAGE_FAILURES = (StorageError, RedisError, ConnectionError, OSError)


class QuietMemoryStorage(MemoryStorage):
    """limits' in-memory storage, with a `clear` that cannot race its own expiry task.

    The storage's background task walks a snapshot of its keys and reads each key's events;
    `clear` popping a key meanwhile made that task die with a KeyError ("Task exception was
    never retrieved" in the log, after every successful sign-in). Emptied instead, the key is
    dropped by the task itself on its next pass.
    """

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


class LimitsRateLimiter:
    """Moving-window limits; `limits` items are made once per RateLimit and reused.

    Should the shared storage fail, counting goes on in this process's memory until it is
    back: limits then hold per process rather than not at all, and sign-in keeps working. The
    loss and the return are logged once each.
    """

    def __init__(self, storage_uri: str, *, connection_pool: object | None = None) -> None:
        """`connection_pool`: the process's redis.asyncio pool, shared rather than doubled."""
        if not storage_uri.startswith("async+"):
            storage_uri = f"async+{storage_uri}"  # the asyncio flavour of the same storage
        options: dict[str, Any] = {}
        if "redis" in storage_uri:
            options["implementation"] = "redispy"
            if connection_pool is not None:
                options["connection_pool"] = connection_pool
        in_memory = storage_uri.startswith("async+memory://")
        storage = QuietMemoryStorage() if in_memory else storage_from_string(storage_uri, **options)
        self._shared = MovingWindowRateLimiter(storage)
        self._local = MovingWindowRateLimiter(QuietMemoryStorage())
        self._items: dict[RateLimit, RateLimitItem] = {}
        self._shared_lost = False

    def _item(self, limit: RateLimit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = RateLimitItemPerSecond(limit.amount, limit.per_seconds, limit.namespace)
            self._items[limit] = item
        return item

    async def hit(self, limit: RateLimit, key: str) -> int | None:
        item = self._item(limit)
        try:
            wait = await self._hit(self._shared, item, key)
        except _STORAGE_FAILURES:
            self._lost()
            return await self._hit(self._local, item, key)
        if self._shared_lost:
            self._shared_lost = False
            log.warning("rate-limit storage is back; counting there again")
        return wait

    def _lost(self) -> None:
        if not self._shared_lost:
            self._shared_lost = True
            log.warning("rate-limit storage unavailable; counting in this process")

    @staticmethod
    async def _hit(strategy: MovingWindowRateLimiter, item: RateLimitItem, key: str) -> int | None:
        if await strategy.hit(item, key):
            return None
        stats = await strategy.get_window_stats(item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self, limit: RateLimit, key: str) -> None:
        item = self._item(limit)
        await self._local.clear(item, key)
        try:
            await self._shared.clear(item, key)
        except _STORAGE_FAILURES:
            self._lost()
