"""Rate limiting: how many attempts a key may make in a window."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `amount` hits per `per_seconds`, for keys in `namespace`."""

    namespace: str
    amount: int
    per_seconds: int


class RateLimiter(Protocol):
    """Counts hits per key in a moving window, shared by every process that shares storage."""

    async def hit(self, limit: RateLimit, key: str) -> int | None:
        """Count one hit. Return None if allowed, or the seconds to wait if over the limit."""
        ...

    async def reset(self, limit: RateLimit, key: str) -> None:
        """Forget the key's hits (e.g. after a successful sign-in)."""
        ...
