"""Pure ASGI middleware: a request id on every response, and in every log record."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from contextvars import ContextVar
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_RAW_HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._-]{1,128}$")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
"""The id of the request being served, for log records (see RequestIdLogFilter)."""


def _incoming_id(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == _RAW_HEADER:
            return value if _SANE_ID.match(value) else None
    return None


class RequestIdMiddleware:
    """Echoes a sane incoming `X-Request-ID` or generates one, and sets it on the response.

    The id is also kept in `scope["state"]["request_id"]`, so the catch-all 500 handler, which
    Starlette runs outside every user middleware, can still put it on its response.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_id = _incoming_id(scope) or uuid4().hex.encode("ascii")
        request_id = raw_id.decode("ascii")
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (_RAW_HEADER, raw_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)
        # Not reset when the app raises: the 500 handler and the server log the error after
        # this returns, and their records should carry the id too. Each request runs in a
        # task (a context) of its own, so the value goes no further.
        request_id_var.reset(token)


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every record, so a format string may use `%(request_id)s`."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class BodySizeLimitMiddleware:
    """Refuses request bodies over `max_bytes` with 413, before the app reads them whole.

    A declared `Content-Length` over the limit is refused unread; a body sent without one is
    counted as it arrives and cut off at the limit, so no request can make the app hold more
    than `max_bytes` of it in memory (OWASP API4: unrestricted resource consumption).

    `own_limits` names the routes, as `(method, path template)`, that bound their bodies
    themselves and stream them rather than hold them (the attachment upload: MAX_UPLOAD_BYTES,
    counted as it arrives). Exactly those method-and-path pairs pass through unlimited here.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, own_limits: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.app, self.max_bytes = app, max_bytes
        self._own = [(method, _template_pattern(path)) for method, path in own_limits]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._bounds_its_own_body(scope):
            await self.app(scope, receive, send)
            return
        if self._over(_declared_length(scope)):
            await _too_large(send, self.max_bytes)
            return
        seen, cut, started = 0, False, False

        async def counted() -> Message:
            nonlocal seen, cut
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if self._over(seen):
                    cut = True
                    return {"type": "http.disconnect"}
            return message

        async def unless_cut(message: Message) -> None:
            nonlocal started
            if not cut:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, counted, unless_cut)
        except Exception:
            if not cut:
                raise
        if cut and not started:
            await _too_large(send, self.max_bytes)

    def _over(self, length: int | None) -> bool:
        return length is not None and length > self.max_bytes

    def _bounds_its_own_body(self, scope: Scope) -> bool:
        method, path = scope["method"], scope["path"]
        return any(method == own and pattern.match(path) for own, pattern in self._own)


def _template_pattern(template: str) -> re.Pattern[str]:
    """A route template (`/items/{item_id}/attachments`) as a whole-path pattern in which each
    parameter is one non-empty path segment."""
    literals = re.split(r"\{[^{}/]+\}", template)
    return re.compile("[^/]+".join(map(re.escape, literals)) + r"\Z")


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _too_large(send: Send, max_bytes: int) -> None:
    body = (
        b'{"type":"about:blank","title":"Content Too Large","status":413,'
        b'"detail":"the request body is over the limit of %d bytes"}' % max_bytes
    )
    headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close")]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
