"""The item cache in Redis: version-guarded writes, so no older copy replaces a newer one."""

from __future__ import annotations

from uuid import UUID

import orjson
from redis.asyncio import Redis

from adapters.redis.client import translated
from adapters.redis.codec import item_from_dict, item_to_dict
from application.dto import ItemView
from application.errors import DependencyUnavailable

_FORGOTTEN = b"-"

# Atomically: keep what is there if it is a deletion mark or a version at least as new.
_PUT = """
local current = redis.call('GET', KEYS[1])
if current then
  if current == '-' then return 0 end
  local version = tonumber(string.match(current, '^(%d+)|'))
  if version and version >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', ARGV[3])
return 1
"""


class RedisItemCache:
    """ItemCache on Redis strings `<prefix>:<id>` = "<version>|<json>" (or "-" once deleted)."""

    def __init__(self, client: Redis, ttl_seconds: int, prefix: str = "portico:item") -> None:
        self._client, self._ttl, self._prefix = client, ttl_seconds, prefix
        self._put = client.register_script(_PUT)
        self._trusted = True
        self.hits = self.misses = 0

    def link_down(self) -> None:
        """Writes through the cache may be missed from now on: stop using it."""
        self._trusted = False

    async def link_up(self, after_loss: bool) -> None:
        """Trust the cache again; after an outage, only once it has been emptied, since a
        change committed meanwhile may have failed to write through (Redis kept its data)."""
        if after_loss:
            await self._flush()
        self._trusted = True

    @translated
    async def _flush(self) -> None:
        batch: list[bytes] = []
        async for key in self._client.scan_iter(match=f"{self._prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                await self._client.unlink(*batch)
                batch = []
        if batch:
            await self._client.unlink(*batch)

    def _check_trusted(self) -> None:
        if not self._trusted:
            raise DependencyUnavailable("the item cache is not trusted until redis is back")

    @translated
    async def get(self, item_id: UUID) -> ItemView | None:
        self._check_trusted()
        raw = await self._client.get(f"{self._prefix}:{item_id}")
        if raw is None or raw == _FORGOTTEN:
            self.misses += 1
            return None
        self.hits += 1
        return item_from_dict(orjson.loads(raw.split(b"|", 1)[1]))  # type: ignore[arg-type]

    @translated
    async def put(self, item: ItemView) -> None:
        self._check_trusted()
        payload = orjson.dumps(item_to_dict(item))
        await self._put(keys=[f"{self._prefix}:{item.id}"], args=[item.version, payload, self._ttl])

    @translated
    async def forget(self, item_id: UUID) -> None:
        self._check_trusted()
        await self._client.set(f"{self._prefix}:{item_id}", _FORGOTTEN, ex=self._ttl)
