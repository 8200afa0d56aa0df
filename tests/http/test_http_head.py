"""`HEAD` on every GET route (RFC 9110 §9.3.2): the GET's status and headers, no body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.head import HeadMiddleware

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"
# Differ between any two responses, whatever the method.
_PER_RESPONSE = {"x-request-id", "date"}


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def _headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in _PER_RESPONSE}


async def _head_matches_get(
    client: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """HEAD `path`; assert it answers as GET does, without the body. Returns the HEAD answer."""
    get = await client.get(path, headers=headers)
    head = await client.head(path, headers=headers)

    assert head.status_code == get.status_code
    assert _headers(head) == _headers(get)
    assert head.content == b""
    return head


async def test_head_on_the_liveness_probe_answers_200_with_the_gets_headers_and_no_body(
    client: httpx.AsyncClient,
):
    head = await _head_matches_get(client, "/health/live")

    assert head.status_code == 200
    assert int(head.headers["content-length"]) == len(b'{"status":"ok"}')
    assert "x-request-id" in head.headers


async def test_head_on_an_item_answers_with_its_etag_and_no_body(client, alice, make_item):
    item = await make_item(alice)

    head = await _head_matches_get(client, f"{ITEMS}/{item['id']}", alice.headers)

    assert head.status_code == 200
    assert head.headers["etag"] == f'"{item["id"]}.1"'


async def test_head_with_a_matching_if_none_match_answers_304(client, alice, make_item):
    item = await make_item(alice)
    headers = {**alice.headers, "If-None-Match": f'"{item["id"]}.1"'}

    head = await _head_matches_get(client, f"{ITEMS}/{item['id']}", headers)

    assert head.status_code == 304
    assert head.headers["etag"] == f'"{item["id"]}.1"'


async def test_head_on_a_list_answers_with_its_paging_headers_and_no_body(client, alice, make_item):
    await make_item(alice)

    head = await _head_matches_get(client, f"{ITEMS}?limit=1", alice.headers)

    assert head.status_code == 200
    assert int(head.headers["x-total-count"]) >= 1


async def test_head_on_an_unknown_path_answers_404_without_a_body(client: httpx.AsyncClient):
    head = await _head_matches_get(client, "/api/v1/nothing-here")

    assert head.status_code == 404
    assert head.headers["content-type"] == "application/problem+json"


async def test_head_on_a_post_only_path_answers_405_naming_the_allowed_methods(
    client: httpx.AsyncClient,
):
    head = await client.head("/api/v1/auth/register")

    assert head.status_code == 405
    assert head.headers["allow"] == "POST"
    assert head.content == b""


async def test_a_405_on_a_get_route_lists_head_as_allowed(client: httpx.AsyncClient):
    response = await client.put("/health/live")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


async def test_the_openapi_document_does_not_list_head_operations(client: httpx.AsyncClient):
    schema: dict[str, Any] = (await client.get("/openapi.json")).json()

    assert not [path for path, operations in schema["paths"].items() if "head" in operations]
    assert "get" in schema["paths"]["/health/live"]


# httpx drops any body a HEAD answer carries, so what the app sends is read at the ASGI level.


async def _raw(app: ASGIApp, method: str, path: str, headers: dict[str, str]) -> list[Message]:
    """The messages `app` sends for one request (no body) to `path`."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 123),
        "server": ("test", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _length(start: Message) -> int:
    return int(dict(start["headers"])[b"content-length"])


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/nothing-here", ITEMS])
async def test_head_sends_no_body_bytes_but_the_gets_content_length(app, alice, path):
    get = await _raw(app, "GET", path, alice.headers)
    head = await _raw(app, "HEAD", path, alice.headers)

    assert head[0]["status"] == get[0]["status"]
    assert _length(head[0]) == _length(get[0]) > 0
    assert [m["type"] for m in head[1:]] == ["http.response.body"]
    assert head[1].get("body", b"") == b""
    assert not head[1].get("more_body", False)


async def _streaming_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for chunk in (b"a", b"b"):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"c"})


async def _file_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.pathsend", "path": "/etc/hostname"})


@pytest.mark.parametrize("inner", [_streaming_app, _file_app])
async def test_head_ends_a_streamed_or_file_body_with_one_empty_message(inner):
    sent = await _raw(HeadMiddleware(inner), "HEAD", "/", {})

    assert sent[1:] == [{"type": "http.response.body", "body": b""}]
