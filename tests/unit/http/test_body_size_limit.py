"""The app-wide body limit, and its one narrow exemption: the route that bounds its own body."""

from __future__ import annotations

import pytest
from starlette.types import Message, Receive, Scope, Send

from entrypoints.http.middleware import BodySizeLimitMiddleware

UPLOAD = ("POST", "/api/v1/items/{item_id}/attachments")
LIMIT = 1024


async def _status(method: str, path: str, body: bytes) -> int:
    """The status the middleware (over an app that reads the whole body) answers."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    await BodySizeLimitMiddleware(app, max_bytes=LIMIT, own_limits=[UPLOAD])(scope, receive, send)
    return int(sent[0]["status"])


async def test_the_upload_route_is_not_held_to_the_app_wide_limit():
    assert await _status("POST", "/api/v1/items/0193a5c4/attachments", b"x" * 4096) == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/items"),
        ("PATCH", "/api/v1/items/0193a5c4/attachments"),
        ("POST", "/api/v1/items/0193a5c4/attachments/0193a5c6"),
        ("POST", "/api/v1/items/0193a5c4/attachments/"),
        ("POST", "/api/v1/items/a/b/attachments"),
        ("POST", "/api/v1/items//attachments"),
        ("POST", "/api/v2/items/0193a5c4/attachments"),
    ],
)
async def test_every_other_method_and_path_is_held_to_it(method: str, path: str):
    assert await _status(method, path, b"x" * 4096) == 413
    assert await _status(method, path, b"x" * 100) == 200
