"""The baseline: a bare Starlette endpoint reading one item row through asyncpg.

No authentication, no ORM, no validation: the floor any framework stack is measured against.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN = os.environ["BENCH_DSN"]
QUERY = (
    "SELECT id, owner_id, title, description, version, created_at, updated_at"
    " FROM items WHERE id = $1"
)


@asynccontextmanager
async def lifespan(app: Starlette):
    app.state.pool = await asyncpg.create_pool(DSN, min_size=10, max_size=10)
    yield
    await app.state.pool.close()


async def item(request: Request) -> Response:
    async with request.app.state.pool.acquire() as conn:
        row = await conn.fetchrow(QUERY, UUID(request.path_params["item_id"]))
    if row is None:
        return Response(status_code=404)
    return Response(orjson.dumps(dict(row), default=str), media_type="application/json")


app = Starlette(routes=[Route("/items/{item_id}", item)], lifespan=lifespan)
