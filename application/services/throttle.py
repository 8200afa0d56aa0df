"""Applying a rate limit inside a use case."""

from dataclasses import dataclass

from application.errors import RateLimited
from application.ports import RateLimit, RateLimiter


async def enforce(limiter: RateLimiter, limit: RateLimit, key: str) -> None:
    """Count a hit for `key`; raise RateLimited with the wait when it is over `limit`."""
    retry_after = await limiter.hit(limit, key)
    if retry_after is not None:
        raise RateLimited(retry_after)


@dataclass(frozen=True, slots=True)
class Throttle:
    """One limit and the limiter that counts it, for a use case that is throttled by a key."""

    limiter: RateLimiter
    limit: RateLimit

    async def __call__(self, key: str) -> None:
        """Count a hit for `key`; raise RateLimited when it is over the limit."""
        await enforce(self.limiter, self.limit, key)
