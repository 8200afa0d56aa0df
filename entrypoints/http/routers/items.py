"""Items, API v1: the single-item endpoints (shared with v2), the offset-paged collection and
the export."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Query, Request, Response

from application.export_format import ExportFormat
from application.paging import MAX_PAGE
from application.use_cases.items.create_item import CreateItem
from application.use_cases.items.delete_item import DeleteItem
from application.use_cases.items.export_items import ExportItems
from application.use_cases.items.get_item import GetItem
from application.use_cases.items.list_items import ListItems
from application.use_cases.items.update_item import UpdateItem
from entrypoints.http import deps, etags
from entrypoints.http.deps import CurrentUser
from entrypoints.http.errors import problem
from entrypoints.http.exports import DOCUMENTED, ExportResponse
from entrypoints.http.idempotency import REUSED_OR_MALFORMED, IdempotencyKeyHeader
from entrypoints.http.openapi import header, problems
from entrypoints.http.rendering import JSONBody, etag, item_bodies, item_response
from entrypoints.http.schemas import ItemCreate, ItemOut, ItemPatch

MAX_SKIP = 10_000_000  # deep offsets cost a scan each: v2's cursors are the way past this
DEPRECATION = "@1795478400"  # RFC 9745: v1's collection is deprecated since 2026-11-24
SUCCESSOR = {"Deprecation": DEPRECATION, "Link": '</api/v2/items>; rel="successor-version"'}

ItemId = Annotated[UUID, Path(description="The item's id (a malformed one is a 422).")]
IfMatch = Annotated[
    str | None,
    Header(
        min_length=1,
        description='Go ahead only at one of these versions: `"<id>.<v>"` (a list may name'
        " several; `*` any). No match, or no entity tag of this item: 412 and nothing"
        " changes. An empty header is a 422.",
    ),
]
Skip = Annotated[int, Query(ge=0, le=MAX_SKIP, description="How many items to pass over.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many (1 to 100).")]

# Read from `request.headers` rather than declared as a `Header` parameter: FastAPI's parameter
# validation costs the hot GET ~20 µs a request. Documented by hand instead.
_IF_NONE_MATCH = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "ETags (or `*`): 304 Not Modified when one matches (weak comparison).",
            "schema": {"type": "string"},
        }
    ]
}
_ETAG = {"ETag": header('The strong tag `"<id>.<version>"`.')}
_ITEM = {"model": ItemOut, "headers": _ETAG}

router = APIRouter(prefix="/api/v1/items", tags=["items"])


async def create_item(
    request: Request,
    body: ItemCreate,
    actor: CurrentUser,
    handler: deps.CreateItem,
    key: IdempotencyKeyHeader,
) -> Response:
    """Create an item owned by the caller. With `Idempotency-Key`, a retry of the same request
    gets the first answer again (201, same body, `Location` and `ETag`), not a second item."""
    item = await handler(CreateItem(actor, body.title, body.description, key))
    return item_response(item, 201, Location=f"{request.url.path}/{item.id}")


async def get_item(
    request: Request, item_id: ItemId, actor: CurrentUser, handler: deps.GetItem
) -> Response:
    """Read one of the caller's items (a superuser: anyone's); `If-None-Match` → 304."""
    item = await handler(GetItem(actor, item_id))
    tag = etag(item)
    if etags.none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    return item_response(item, tag=tag)


async def update_item(
    item_id: ItemId,
    body: ItemPatch,
    actor: CurrentUser,
    handler: deps.UpdateItem,
    if_match: IfMatch = None,
) -> Response:
    """Change the fields sent (`description: null` clears it); with `If-Match`, only at that
    version."""
    expected = etags.expected_versions(if_match, item_id)
    item = await handler(UpdateItem(actor, item_id, **body.changes(), expected_versions=expected))
    return item_response(item)


async def delete_item(
    item_id: ItemId, actor: CurrentUser, handler: deps.DeleteItem, if_match: IfMatch = None
) -> Response:
    """Delete an item; with `If-Match`, only at one of the versions it names."""
    await handler(DeleteItem(actor, item_id, etags.expected_versions(if_match, item_id)))
    return Response(status_code=204)


def add_item_routes(router: APIRouter) -> None:
    """The single-item endpoints, the same in every API version."""
    common: dict[str, Any] = {"response_model": None, "response_class": JSONBody}
    created = {**_ITEM, "headers": {**_ETAG, "Location": header("The new item's URL.")}}
    router.add_api_route(
        "", create_item, methods=["POST"], status_code=201,
        responses={201: created, **problems(401), **REUSED_OR_MALFORMED}, **common,
    )  # fmt: skip
    router.add_api_route(
        "/{item_id}", get_item, methods=["GET"], openapi_extra=_IF_NONE_MATCH,
        responses={
            200: _ITEM,
            304: {"description": "Not modified.", "headers": _ETAG},
            **problems(401, 404, 422),
        },
        **common,
    )  # fmt: skip
    router.add_api_route(
        "/{item_id}", update_item, methods=["PATCH"],
        responses={200: _ITEM, **problems(401, 404, 412, 422)}, **common,
    )  # fmt: skip
    router.add_api_route(
        "/{item_id}", delete_item, methods=["DELETE"], status_code=204,
        responses=problems(401, 404, 412, 422), **common,
    )  # fmt: skip


@router.get(
    "",
    deprecated=True,
    response_model=None,
    response_class=JSONBody,
    responses={
        200: {
            "model": list[ItemOut],
            "headers": {
                "X-Total-Count": header("How many items the caller owns.", "integer"),
                "Deprecation": header("RFC 9745: this collection is deprecated."),
                "Link": header("The successor: `</api/v2/items>`."),
            },
        },
        **problems(401, 422),
    },
)
async def list_items(
    actor: CurrentUser, handler: deps.ListItems, skip: Skip = 0, limit: Limit = 50
) -> Response:
    """The caller's own items, oldest first. Deprecated: use `/api/v2/items` (cursor paging)."""
    page = await handler(ListItems(actor, skip, limit))
    headers = {"X-Total-Count": str(page.total), **SUCCESSOR}
    return JSONBody(item_bodies(page.items), headers=headers)


ExportFormatQuery = Annotated[
    ExportFormat, Query(alias="format", description="`ndjson` (the default) or `csv`.")
]


@router.get(  # before "/{item_id}", which would take "export" for a malformed id
    "/export",
    status_code=200,
    response_model=None,
    response_class=ExportResponse,
    responses={**DOCUMENTED, **problems(401, 422, 503)},
)
async def export_items(
    actor: CurrentUser, handler: deps.ExportItems, fmt: ExportFormatQuery = ExportFormat.NDJSON
) -> Response:
    """Every item the caller owns (a superuser too: their own), oldest first, read from one
    snapshot and streamed as a file: NDJSON, or CSV for spreadsheets."""
    chunks = await handler(ExportItems(actor, fmt))
    return ExportResponse(chunks, fmt)


@router.api_route(
    "/export", methods=["POST", "PUT", "PATCH", "DELETE", "OPTIONS"], include_in_schema=False
)  # the export is not an item: any other method is a 405, not "export is no item id"
async def export_other_methods() -> Response:
    """405 with the export's own `Allow` (not the item routes', which match the path too)."""
    return problem(405, "the export is only read", headers={"Allow": "GET, HEAD"})


add_item_routes(router)
