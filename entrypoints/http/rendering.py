"""Responses serialised once: orjson straight from the DTO dataclasses, no model in between."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from application.dto import ItemView

_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC  # RFC 3339 with an offset: ...Z


class JSONBody(JSONResponse):
    """`application/json` rendered by orjson (dataclasses, UUIDs and datetimes natively)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)


def etag(item: ItemView) -> str:
    """The item's strong entity tag: `"<id>.<version>"`."""
    return f'"{item.id}.{item.version}"'


def item_response(item: ItemView, status_code: int = 200, **headers: str) -> JSONBody:
    """An item with its ETag (and any other headers given)."""
    return JSONBody(item, status_code, {"ETag": etag(item), **headers})
