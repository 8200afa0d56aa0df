"""Items, API v2: the v1 single-item endpoints, and a keyset-paged collection."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from application.cursors import CURSOR_CHARS
from application.use_cases.items.list_items_by_cursor import ListItemsByCursor
from entrypoints.http import deps
from entrypoints.http.deps import CurrentUser
from entrypoints.http.openapi import problems
from entrypoints.http.rendering import JSONBody, item_bodies
from entrypoints.http.routers.items import Limit, add_item_routes
from entrypoints.http.schemas import ItemPage

CURSOR_PATTERN = f"^[A-Za-z0-9_-]{{{CURSOR_CHARS}}}$"

Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page (opaque, URL-safe base64); omit for"
        " the first. A cursor that was not handed out, or another user's, is a 422.",
    ),
]

router = APIRouter(prefix="/api/v2/items", tags=["items v2"])


@router.get(
    "",
    response_model=None,
    response_class=JSONBody,
    responses={200: {"model": ItemPage}, **problems(401, 422)},
)
async def list_items(
    actor: CurrentUser, handler: deps.ListItemsByCursor, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    """The caller's own items by id; every page costs the same. A bad cursor is a 422."""
    page = await handler(ListItemsByCursor(actor, cursor, limit))
    return JSONBody({"data": item_bodies(page.items), "next_cursor": page.next_cursor})


add_item_routes(router)
