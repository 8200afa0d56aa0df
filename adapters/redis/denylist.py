"""The access-token denylist in Redis: shared by every API process, checked in one round trip."""

from __future__ import annotations

import math
from datetime import datetime
from uuid import UUID

from redis.asyncio import Redis

from adapters.redis.client import translated
from application.ports.clock import Clock
from application.ports.security import AccessClaims

# Atomically merge a user-wide entry: an older moment never replaces a newer one (nor its kept
# token), and the key's expiry only ever grows. ARGV: moment, kept jti, ttl in seconds.
_REVOKE_USER = """
local ttl = tonumber(ARGV[3]) * 1000
local current = redis.call('GET', KEYS[1])
if current then
  ttl = math.max(ttl, redis.call('PTTL', KEYS[1]))
  local moment = tonumber(string.match(current, '^([^|]*)|'))
  if moment and moment > tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'PX', ttl)
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisTokenDenylist:
    """TokenDenylist on Redis keys that expire with the tokens they concern.

    `portico:revoked:token:<jti>` marks one token; `portico:revoked:user:<id>` holds
    "<moment>|<kept jti>": the user's tokens issued before the moment are revoked, but the kept one.
    User-wide entries merge monotonically (see `_REVOKE_USER`).
    """

    def __init__(self, client: Redis, clock: Clock, prefix: str = "portico:revoked") -> None:
        self._client, self._clock, self._prefix = client, clock, prefix
        self._revoke_user = client.register_script(_REVOKE_USER)

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
        await self._revoke_user(
            keys=[f"{self._prefix}:user:{user_id}"],
            args=[repr(issued_before.timestamp()), keep_token_id or "", ttl_seconds],
        )

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
