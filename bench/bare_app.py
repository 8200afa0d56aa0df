"""The baseline: bare Starlette endpoints reading items through asyncpg.

No authentication, no ORM, no validation: the floor any framework stack is measured against.

- `GET /items/{id}`: one row by key.
- `GET /owners/{owner_id}/items?limit=N`: the owner's first N items by id (v2's page query).
- `GET /owners/{owner_id}/items-counted?limit=N`: the owner's first N items oldest first
  (v1's page query) and a `count(*)` of all they own, as `X-Total-Count`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ["BENCH_DSN"]
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "20"))  # Portico's pool_size + max_overflow
COLUMNS = "id, owner_id, title, description, version, created_at, updated_at"
ITEM = f"SELECT {COLUMNS} FROM items WHERE id = $1"
PAGE_BY_ID = f"SELECT {COLUMNS} FROM items WHERE owner_id = $1 ORDER BY id LIMIT $2"
PAGE_OLDEST_FIRST = (
    f"SELECT {COLUMNS} FROM items WHERE owner_id = $1 ORDER BY created_at, id LIMIT $2"
)
COUNT = "SELECT count(*) FROM items WHERE owner_id = $1"


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(DSN, min_size=10, max_size=POOL_SIZE)
    yield
    await app.state.pool.close()


def _json(body: object, **headers: str) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json", headers=headers)


async def item(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(ITEM, UUID(request.path_params["item_id"]))
    if row is None:
        return Response(status_code=404)
    return _json(dict(row))


async def page(request: Request) -> Response:
    owner, limit = UUID(request.path_params["owner_id"]), int(request.query_params["limit"])
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(PAGE_BY_ID, owner, limit)
    return _json([dict(row) for row in rows])


async def counted_page(request: Request) -> Response:
    owner, limit = UUID(request.path_params["owner_id"]), int(request.query_params["limit"])
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(PAGE_OLDEST_FIRST, owner, limit)
        total = await conn.fetchval(COUNT, owner)
    return _json([dict(row) for row in rows], **{"X-Total-Count": str(total)})


app = Starlette(
    routes=[
        Route("/items/{item_id}", item),
        Route("/owners/{owner_id}/items", page),
        Route("/owners/{owner_id}/items-counted", counted_page),
    ],
    lifespan=lifespan,
)
