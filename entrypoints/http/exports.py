"""The item export as HTTP sends it: each format's media type and file name, and a streamed
response that closes the export however the request ends."""

from __future__ import annotations

from collections.abc import AsyncGenerator

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from application.export_format import ExportFormat
from entrypoints.http.openapi import Responses, header
from entrypoints.http.schemas import ItemOut

NDJSON = "application/x-ndjson"
CSV = "text/csv; charset=utf-8"
MEDIA_TYPES = {ExportFormat.NDJSON: NDJSON, ExportFormat.CSV: CSV}

_NDJSON_EXAMPLE = (
    '{"id":"0194d7a4-7c1e-7cc3-9a46-3b5e0f9d2c11","owner_id":"0194d7a4-5b2a-7d8e-8f10-'
    '6a7b8c9d0e1f","title":"Buy milk","description":null,"version":1,"created_at":'
    '"2026-11-24T21:05:03.123456Z","updated_at":"2026-11-24T21:05:03.123456Z"}\n'
)
_CSV_EXAMPLE = (
    "id,owner_id,title,description,version,created_at,updated_at\r\n"
    '"0194d7a4-7c1e-7cc3-9a46-3b5e0f9d2c11","0194d7a4-5b2a-7d8e-8f10-6a7b8c9d0e1f",'
    '"Buy milk",,1,"2026-11-24T21:05:03.123456Z","2026-11-24T21:05:03.123456Z"\r\n'
)
DOCUMENTED: Responses = {
    200: {
        "description": "The caller's items, oldest first, streamed. NDJSON: one item per line,"
        " exactly as `GET /api/v1/items/{item_id}` shows it. CSV (RFC 4180, CRLF): a header"
        " row, then one record per item; text cells quoted, an absent description empty, a"
        " cell that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first)"
        " prefixed with `'`. A body cut short (the database lost midway) ends without the"
        " final chunk of its chunked encoding: a client sees a broken download, not a short"
        " export that looks whole.",
        "headers": {
            "Content-Disposition": header('`attachment; filename="items.ndjson"` (or `.csv`).')
        },
        "content": {
            NDJSON: {
                "schema": {"$ref": f"#/components/schemas/{ItemOut.__name__}"},
                "example": _NDJSON_EXAMPLE,
            },
            "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
        },
    }
}


class ExportResponse(StreamingResponse):
    """The export's chunks as they come, as a download (`items.ndjson` or `items.csv`).

    Starlette leaves its body iterator unclosed when the client goes away (sending fails, or
    the disconnect listener cancels the sender while it waits): closed here, the export hands
    its database connection back at once rather than whenever the generator is collected.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None], fmt: ExportFormat) -> None:
        disposition = f'attachment; filename="items.{fmt.value}"'
        headers = {"Content-Disposition": disposition, "Cache-Control": "no-store"}
        super().__init__(chunks, media_type=MEDIA_TYPES[fmt], headers=headers)
        self._chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._chunks.aclose()
