"""Attachments of an item: a streamed multipart upload, the list, ranged downloads, deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.responses import StreamingResponse

from application.dto import AttachmentView
from application.use_cases.attachments.delete_attachment import DeleteAttachment
from application.use_cases.attachments.download_attachment import (
    AttachmentDownload,
    DownloadAttachment,
)
from application.use_cases.attachments.list_attachments import ListAttachments
from application.use_cases.attachments.upload_attachment import UploadAttachment
from entrypoints.http import deps, etags
from entrypoints.http.deps import CurrentUser
from entrypoints.http.downloads import ByteRange, content_disposition, requested_range
from entrypoints.http.openapi import Responses, header, problems
from entrypoints.http.rendering import JSONBody
from entrypoints.http.schemas.attachments import AttachmentOut
from entrypoints.http.uploads import FILE_FIELD, UploadedFile

PREFIX = "/api/v1/items/{item_id}/attachments"
UPLOAD_ROUTE = ("POST", PREFIX)
"""The one route that bounds its own body (MAX_UPLOAD_BYTES, counted as it streams: see
`uploads`), so the app-wide body limit does not apply to it."""

ATTACHMENT_FIELDS: tuple[str, ...] = tuple(AttachmentOut.model_fields)

ItemId = Annotated[UUID, Path(description="The item's id (a malformed one is a 422).")]
AttachmentId = Annotated[UUID, Path(description="The attachment's id.")]
RangeHeader = Annotated[
    str | None, Header(alias="Range", description="One range: `bytes=a-b`, `a-` or `-n`.")
]
IfRange = Annotated[
    str | None, Header(alias="If-Range", description='Honour `Range` only at this `"<sha256>"`.')
]
IfNoneMatch = Annotated[
    str | None, Header(alias="If-None-Match", description='304 when `"<sha256>"` matches.')
]

_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_VALIDATORS = {
    "ETag": header('The strong tag `"<sha256>"`.'),
    "Accept-Ranges": header("`bytes`."),
}
_BYTES_HEADERS = {
    **_VALIDATORS,
    "Content-Disposition": header("`attachment; filename=\"…\"; filename*=UTF-8''…`."),
    "Content-Length": header("Bytes in this response.", "integer"),
    "X-Content-Type-Options": header("`nosniff`."),
}
_DOWNLOAD: Responses = {
    200: {"description": "The bytes, as stored (`Content-Type` the stored one).",
          "content": _BINARY, "headers": _BYTES_HEADERS},
    206: {"description": "The one range asked for.", "content": _BINARY,
          "headers": {**_BYTES_HEADERS, "Content-Range": header("`bytes a-b/size`.")}},
    304: {"description": "Not modified.", "headers": _VALIDATORS},
    **problems(401, 404, 416, 422),
}  # fmt: skip
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {
                        FILE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "The file; its part's `filename` and"
                            " `Content-Type` are kept (made safe).",
                        }
                    },
                }
            }
        },
    }
}

router = APIRouter(prefix=PREFIX, tags=["attachments"])


def attachment_body(view: AttachmentView) -> dict[str, Any]:
    """The body of an attachment: exactly the fields of `AttachmentOut`, in its order."""
    return {name: getattr(view, name) for name in ATTACHMENT_FIELDS}


@router.post(
    "",
    status_code=201,
    response_model=None,
    response_class=JSONBody,
    openapi_extra=_UPLOAD_BODY,
    responses={
        201: {"model": AttachmentOut, "headers": {"Location": header("The download URL.")}},
        **problems(401, 404, 409, 413, 415, 422),
    },
)
async def upload_attachment(
    request: Request,
    item_id: ItemId,
    actor: CurrentUser,
    handler: deps.UploadAttachment,
    upload: UploadedFile,
) -> Response:
    """Attach a file (multipart field `file`), streamed to storage as it arrives: past
    MAX_UPLOAD_BYTES the upload stops at once with 413 and nothing is kept."""
    cmd = UploadAttachment(actor, item_id, upload.filename, upload.content_type, upload.chunks)
    view = await handler(cmd)
    location = f"{request.url.path}/{view.id}"
    return JSONBody(attachment_body(view), 201, {"Location": location})


@router.get(
    "",
    response_model=None,
    response_class=JSONBody,
    responses={200: {"model": list[AttachmentOut]}, **problems(401, 404, 422)},
)
async def list_attachments(
    item_id: ItemId, actor: CurrentUser, handler: deps.ListAttachments
) -> Response:
    """The item's attachments, oldest first."""
    views = await handler(ListAttachments(actor, item_id))
    return JSONBody([attachment_body(view) for view in views])


@router.get(
    "/{attachment_id}", response_model=None, response_class=StreamingResponse, responses=_DOWNLOAD
)
async def download_attachment(
    item_id: ItemId,
    attachment_id: AttachmentId,
    actor: CurrentUser,
    handler: deps.DownloadAttachment,
    range_: RangeHeader = None,
    if_range: IfRange = None,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """The stored bytes, streamed; one `Range` → 206, several → 200 with all of them."""
    found = await handler(DownloadAttachment(actor, item_id, attachment_id))
    tag = f'"{found.attachment.sha256}"'
    if etags.none_match(if_none_match, tag):
        return Response(status_code=304, headers={"ETag": tag, "Accept-Ranges": "bytes"})
    honoured = range_ if if_range is None or if_range.strip() == tag else None
    return await _bytes(found, requested_range(honoured, found.attachment.size), tag)


@router.delete(
    "/{attachment_id}", status_code=204, response_model=None, responses=problems(401, 404, 422)
)
async def delete_attachment(
    item_id: ItemId, attachment_id: AttachmentId, actor: CurrentUser, handler: deps.DeleteAttachment
) -> Response:
    """Delete an attachment; a job removes its bytes."""
    await handler(DeleteAttachment(actor, item_id, attachment_id))
    return Response(status_code=204)


async def _bytes(found: AttachmentDownload, span: ByteRange | None, tag: str) -> Response:
    """The bytes of `span` (None: all), streamed. The first chunk is read before the answer
    starts, so bytes gone from the store are a 404 problem rather than a cut-off 200."""
    view = found.attachment
    start, stop = (span.start, span.stop) if span else (0, view.size)
    chunks = found.read(start, stop)
    first = await anext(chunks, b"")
    headers = {
        "Content-Type": view.content_type,  # as stored: Starlette would add a charset to text/*
        "Content-Length": str(stop - start),
        "Content-Disposition": content_disposition(view.filename),
        "ETag": tag,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    if span is not None:
        headers["Content-Range"] = span.content_range
    return StreamingResponse(_then(first, chunks), 206 if span else 200, headers)


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        if first:
            yield first
        async for chunk in rest:
            yield chunk
    finally:
        close = getattr(rest, "aclose", None)  # the store's file or connection, at once
        if close is not None:
            await close()
