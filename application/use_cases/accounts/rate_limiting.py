"""Applying a rate limit inside a use case."""

from application.errors import RateLimited
from application.ports import RateLimit, RateLimiter


async def enforce(limiter: RateLimiter, limit: RateLimit, key: str) -> None:
    """Count a hit for `key`; raise RateLimited with the wait when it is over `limit`."""
    retry_after = await limiter.hit(limit, key)
    if retry_after is not None:
        raise RateLimited(retry_after)
