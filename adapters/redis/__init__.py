"""Redis adapters (redis.asyncio): denylist, item cache and event bus shared by every process."""
