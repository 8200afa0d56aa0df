"""Responses serialised once: orjson straight from plain values, no model in between.

An item's body is built from its read model by the response schema's own field list, so the
OpenAPI document and the bytes sent cannot list different fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from fastapi.responses import JSONResponse

from application.dto import ItemView
from entrypoints.http.schemas.items import ItemOut

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC  # RFC 3339 with an offset: ...Z

ITEM_FIELDS: tuple[str, ...] = tuple(ItemOut.model_fields)
"""The fields of an item's body, in the order they are sent: `ItemOut`'s."""


class JSONBody(JSONResponse):
    """`application/json` rendered by orjson (dataclasses, UUIDs and datetimes natively)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def item_body(item: ItemView) -> dict[str, Any]:
    """The body of an item: exactly the fields of `ItemOut`, in its order, for orjson."""
    return {name: getattr(item, name) for name in ITEM_FIELDS}


def item_bodies(items: Iterable[ItemView]) -> list[dict[str, Any]]:
    """The bodies of several items, in the order given."""
    return [item_body(item) for item in items]


def etag(item: ItemView) -> str:
    """The item's strong entity tag: `"<id>.<version>"`."""
    return f'"{item.id}.{item.version}"'


def item_response(
    item: ItemView, status_code: int = 200, tag: str | None = None, **headers: str
) -> JSONBody:
    """An item's body with its ETag (`tag`, when the caller has it already) and any other
    headers given."""
    return JSONBody(item_body(item), status_code, {"ETag": tag or etag(item), **headers})
