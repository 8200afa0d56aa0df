"""RateLimiter on `limits`: a well-kept library, so window arithmetic is not ours to get wrong.

The storage URI picks where counts live: `memory://` for one process, `redis://...` for
every process sharing one Redis.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from application.errors import DependencyUnavailable
from application.ports.rate_limits import RateLimit


class LimitsRateLimiter:
    """Moving-window limits; `limits` items are made once per RateLimit and reused."""

    def __init__(self, storage_uri: str) -> None:
        if not storage_uri.startswith("async+"):
            storage_uri = f"async+{storage_uri}"  # the asyncio flavour of the same storage
        self._storage = storage_from_string(storage_uri)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._items: dict[RateLimit, RateLimitItem] = {}

    def _item(self, limit: RateLimit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = RateLimitItemPerSecond(limit.amount, limit.per_seconds, limit.namespace)
            self._items[limit] = item
        return item

    async def hit(self, limit: RateLimit, key: str) -> int | None:
        item = self._item(limit)
        try:
            if await self._strategy.hit(item, key):
                return None
            stats = await self._strategy.get_window_stats(item, key)
        except (StorageError, ConnectionError, OSError) as exc:
            raise DependencyUnavailable("rate-limit storage is unavailable") from exc
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def reset(self, limit: RateLimit, key: str) -> None:
        try:
            await self._strategy.clear(self._item(limit), key)
        except (StorageError, ConnectionError, OSError) as exc:
            raise DependencyUnavailable("rate-limit storage is unavailable") from exc
