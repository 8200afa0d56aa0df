"""The data the loads read: two accounts through the API, and many items in one SQL statement.

`bench@example.com` owns the one item the item GETs read; `lists@example.com` owns the
`count` items the list endpoints page through. The bulk insert writes what the API would:
UUIDv7 ids whose time prefix is the creation time, version 1, distinct UTC timestamps. When
the schema has a per-owner `item_counts` table, the owner's row is set to the true count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import httpx

PASSWORD = "bench-password"  # a throwaway account on a throwaway database

_BULK = """
INSERT INTO items (id, owner_id, title, description, version, created_at, updated_at)
SELECT (lpad(to_hex(floor(extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7'
        || substr(r, 1, 3) || substr('89ab', 1 + floor(random() * 4)::int, 1)
        || substr(r, 4, 15))::uuid,
       $1, 'bench item ' || n, NULL, 1, at, at
FROM generate_series(1, $3) AS n,
     LATERAL (SELECT $2::timestamptz + n * interval '1 ms', md5(random()::text)) AS t(at, r)
"""

_COLUMNS = """
SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'item_counts' ORDER BY ordinal_position
"""


@dataclass(frozen=True)
class Accounts:
    token: str
    item_id: str
    list_token: str
    list_owner: str


async def _signed_in(client: httpx.AsyncClient, email: str) -> str:
    await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    form = {"grant_type": "password", "username": email, "password": PASSWORD}
    answer = await client.post("/api/v1/auth/token", data=form)
    answer.raise_for_status()
    return str(answer.json()["access_token"])


async def accounts(base: str) -> Accounts:
    """Register (or sign in) both accounts through the API and create the one item."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        token = await _signed_in(client, "bench@example.com")
        auth = {"Authorization": f"Bearer {token}"}
        created = await client.post("/api/v1/items", json={"title": "bench"}, headers=auth)
        created.raise_for_status()
        list_token = await _signed_in(client, "lists@example.com")
        me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {list_token}"})
        me.raise_for_status()
    return Accounts(token, created.json()["id"], list_token, me.json()["id"])


async def _fill_item_counts(conn: asyncpg.Connection, owner: UUID) -> bool:
    """Set the owner's row of `item_counts`, if the schema has that table."""
    columns = await conn.fetch(_COLUMNS)
    if not columns:
        return False
    names, values = [], []
    total = await conn.fetchval("SELECT count(*) FROM items WHERE owner_id = $1", owner)
    for column in columns:
        kind = column["data_type"]
        if kind == "uuid":
            names.append(column["column_name"])
            values.append(f"'{owner}'::uuid")
        elif kind in ("integer", "bigint", "smallint", "numeric"):
            names.append(column["column_name"])
            values.append(str(total))
        elif kind.startswith("timestamp"):
            names.append(column["column_name"])
            values.append("now()")
        elif column["is_nullable"] == "NO" and column["column_default"] is None:
            raise SystemExit(f"item_counts.{column['column_name']} ({kind}): no value known")
    owner_columns = [c["column_name"] for c in columns if c["data_type"] == "uuid"]
    async with conn.transaction():
        for name in owner_columns:
            await conn.execute(f'DELETE FROM item_counts WHERE "{name}" = $1', owner)
        quoted = ", ".join(f'"{n}"' for n in names)
        await conn.execute(f"INSERT INTO item_counts ({quoted}) VALUES ({', '.join(values)})")
    return True


async def bulk_items(dsn: str, owner: str, count: int) -> bool:
    """Make `owner` own `count` items (adding only the missing ones); returns whether an
    `item_counts` row was set too."""
    conn = await asyncpg.connect(dsn)
    try:
        owner_id = UUID(owner)
        owned = await conn.fetchval("SELECT count(*) FROM items WHERE owner_id = $1", owner_id)
        start = datetime.now(UTC) - timedelta(days=30)
        await conn.execute(_BULK, owner_id, start, max(count - owned, 0))
        counted = await _fill_item_counts(conn, owner_id)
        await conn.execute("VACUUM ANALYZE items")
    finally:
        await conn.close()
    return counted
