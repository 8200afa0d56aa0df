"""Streaming `multipart/form-data` uploads: the one file part of a request, read as it arrives.

The request body is fed to streaming-form-data's parser chunk by chunk inside an async
generator, and the file part's bytes leave that same generator as soon as a chunk is parsed:
at most one received chunk is held, nothing is spooled to disk (no `UploadFile`, no
`request.form()`), and whoever consumes the bytes (the use case, storing them) sets the pace.
The whole body is counted too, so bulky other parts cannot get past the upload limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from streaming_form_data import ParseFailedException, StreamingFormDataParser
from streaming_form_data.targets import BaseTarget

from application.errors import UploadTooLarge

UPLOAD_OVERHEAD_BYTES = 64 * 1024
"""What a request may carry beyond the file itself: boundaries, part headers, small fields."""

FILE_FIELD = "file"


def upload_body_limit(max_upload_bytes: int) -> int:
    """The most bytes an upload request's body may hold: the file limit plus the overhead."""
    return max_upload_bytes + UPLOAD_OVERHEAD_BYTES


class UnreadableUpload(Exception):
    """The request is not an upload this route can read."""


class NotMultipart(UnreadableUpload):
    """An upload is a `multipart/form-data` body (answered 415)."""


class MalformedUpload(UnreadableUpload):
    """The body breaks the multipart syntax (answered 422)."""


class BadFilePart(MalformedUpload):
    """The form must hold one complete `file` part: none, two, or one cut short (422)."""


@dataclass(frozen=True, slots=True)
class FilePart:
    """The file part of an upload: its names as the client gave them, and its bytes, which
    arrive while they are iterated (raising UploadTooLarge, MalformedUpload for a body that
    breaks off or is malformed, or ClientDisconnect)."""

    filename: str
    content_type: str | None
    chunks: AsyncIterator[bytes]


class _FilePartTarget(BaseTarget):  # type: ignore[misc]  # an untyped library
    """Collects the parsed bytes of the one file part until the generator takes them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts, self.headers_read, self.finished = 0, False, False
        self._pending: list[bytes] = []

    async def on_start_async(self) -> None:
        self.parts += 1
        if self.parts > 1:
            raise BadFilePart(f"the form holds more than one `{FILE_FIELD}` part")

    async def on_data_received_async(self, chunk: bytes) -> None:
        self.headers_read = True  # the part's headers (and its Content-Type) are all parsed
        if chunk:
            self._pending.append(chunk)

    async def on_finish_async(self) -> None:
        self.headers_read = self.finished = True

    def take(self) -> list[bytes]:
        """The bytes parsed since the last call, in order."""
        taken, self._pending = self._pending, []
        return taken


async def _counted(body: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > limit:
            raise UploadTooLarge(f"the request body is over the limit of {limit} bytes")
        if chunk:
            yield chunk


async def _feed(parser: Any, chunk: bytes) -> None:
    try:
        await parser.adata_received(chunk)
    except ParseFailedException as exc:
        raise MalformedUpload("the body is not valid multipart/form-data") from exc


def _parser(headers: Mapping[str, str], field: str, target: _FilePartTarget) -> Any:
    try:
        parser = StreamingFormDataParser(headers)
    except ParseFailedException as exc:
        raise NotMultipart("an upload must be multipart/form-data") from exc
    parser.register(field, target)
    return parser


async def _file_bytes(
    parser: Any, target: _FilePartTarget, body: AsyncIterator[bytes]
) -> AsyncIterator[bytes]:
    for piece in target.take():
        yield piece
    async for chunk in body:  # to the end: the body must close the part and the form
        await _feed(parser, chunk)
        for piece in target.take():
            yield piece
    if not target.finished:
        raise BadFilePart(f"the body ended inside the `{FILE_FIELD}` part")


async def read_file_part(
    body: AsyncIterable[bytes],
    headers: Mapping[str, str],
    *,
    max_body_bytes: int,
    field: str = FILE_FIELD,
) -> FilePart:
    """The part named `field` of a `multipart/form-data` body, read up to its first bytes.

    Raises NotMultipart when `headers` name no multipart body, MalformedUpload when the body
    is malformed, BadFilePart when it has no such part, and UploadTooLarge as soon as the
    body (counted as it arrives) is over `max_body_bytes`.
    """
    target = _FilePartTarget()
    parser = _parser(headers, field, target)
    chunks = aiter(_counted(body, max_body_bytes))
    async for chunk in chunks:  # the parts before it, then the file part's own headers
        await _feed(parser, chunk)
        if target.headers_read:
            break
    else:
        raise BadFilePart(f"the form has no `{field}` part")
    filename = target.multipart_filename or ""
    return FilePart(filename, target.multipart_content_type, _file_bytes(parser, target, chunks))


def _announced_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "")
    return int(value) if value.isascii() and value.isdigit() else None


async def uploaded_file(request: Request) -> FilePart:
    """Dependency: the request's `file` part, streamed. A `Content-Length` over the limit
    (MAX_UPLOAD_BYTES plus the overhead) is refused with UploadTooLarge before a byte is
    read."""
    limit = upload_body_limit(request.app.state.container.settings().max_upload_bytes)
    announced = _announced_length(request.headers)
    if announced is not None and announced > limit:
        raise UploadTooLarge(f"the request body is over the limit of {limit} bytes")
    return await read_file_part(request.stream(), request.headers, max_body_bytes=limit)


UploadedFile = Annotated[FilePart, Depends(uploaded_file)]
