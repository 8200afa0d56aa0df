"""The access-token denylist in Redis: shared by every API process, checked in one round trip."""

from __future__ import annotations

import math
from datetime import datetime
from uuid import UUID

from redis.asyncio import Redis

from adapters.redis.client import translated
from application.ports.clock import Clock
from application.ports.security import AccessClaims


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisTokenDenylist:
    """TokenDenylist on Redis keys that expire with the tokens they concern.

    `portico:revoked:token:<jti>` marks one token; `portico:revoked:user:<id>` holds
    "<moment>|<kept jti>": the user's tokens issued before the moment are revoked, but the kept one.
    """

    def __init__(self, client: Redis, clock: Clock, prefix: str = "portico:revoked") -> None:
        self._client, self._clock, self._prefix = client, clock, prefix

    def _seconds_until(self, moment: datetime) -> int:
        return max(1, math.ceil(moment.timestamp() - self._clock.now().timestamp()))

    @translated
    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        key = f"{self._prefix}:token:{token_id}"
        await self._client.set(key, b"1", ex=self._seconds_until(expires_at))

    @translated
    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        value = f"{issued_before.timestamp()!r}|{keep_token_id or ''}"
        await self._client.set(f"{self._prefix}:user:{user_id}", value, ex=ttl_seconds)

    @translated
    async def is_revoked(self, claims: AccessClaims) -> bool:
        token, user = await self._client.mget(
            f"{self._prefix}:token:{claims.token_id}", f"{self._prefix}:user:{claims.user_id}"
        )
        if token is not None:
            return True
        if user is None:
            return False
        moment, _, kept = _text(user).partition("|")
        return claims.token_id != kept and claims.issued_at.timestamp() < float(moment)
