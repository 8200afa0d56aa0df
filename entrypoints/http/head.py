"""`HEAD` wherever `GET` is served (RFC 9110 §9.3.2), as a pure ASGI middleware."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Extension messages that carry a whole body by reference (a file path, a file descriptor).
_BODY_BY_REFERENCE = {"http.response.pathsend", "http.response.zerocopysend"}


class HeadMiddleware:
    """Answers `HEAD` exactly as the app answers `GET`, with the body left out.

    FastAPI routes only the methods a route names, so without this every `HEAD` is a 405;
    naming HEAD on each GET route would add a second operation per route to the OpenAPI
    document. Here the app sees a GET; its status and headers go out as they are (with the
    `Content-Length` the GET would have: RFC 9110 §8.6 allows it), its body does not. Every
    405 lists `HEAD` in `Allow` wherever it lists `GET`, since HEAD is served there too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] == "HEAD":
            await self.app({**scope, "method": "GET"}, receive, _headers_only(send))
        else:
            await self.app(scope, receive, _allowing_head(send))


def _with_head_allowed(message: Message) -> Message:
    """A 405's start message, with `HEAD` beside `GET` in `Allow`."""
    if message["type"] == "http.response.start" and message["status"] == 405:
        message.setdefault("headers", [])
        headers = MutableHeaders(scope=message)
        allowed = [m.strip() for m in headers.get("allow", "").split(",") if m.strip()]
        if "GET" in allowed and "HEAD" not in allowed:
            allowed.insert(allowed.index("GET") + 1, "HEAD")
            headers["allow"] = ", ".join(allowed)
    return message


def _allowing_head(send: Send) -> Send:
    async def sender(message: Message) -> None:
        await send(_with_head_allowed(message))

    return sender


def _headers_only(send: Send) -> Send:
    """`send`, passing the start message and one empty end of body; the body is dropped."""
    ended = False

    async def sender(message: Message) -> None:
        nonlocal ended
        kind = message["type"]
        if kind == "http.response.start":
            await send(_with_head_allowed(message))
        elif kind == "http.response.body" or kind in _BODY_BY_REFERENCE:
            final = kind in _BODY_BY_REFERENCE or not message.get("more_body", False)
            if final and not ended:
                ended = True
                await send({"type": "http.response.body", "body": b""})
        else:
            await send(message)

    return sender
