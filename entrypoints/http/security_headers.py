"""Security headers on every HTTP response, problem responses and 404s included (pure ASGI).

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`, always;
- `Cache-Control: no-store` unless the response says otherwise (an attachment download's
  `private, no-cache`, a token response's own `no-store`, the docs assets' `no-cache`);
- `Strict-Transport-Security` only on a request that came over HTTPS: directly, or through a
  proxy in TRUSTED_PROXIES that says so with `X-Forwarded-Proto: https`. Browsers ignore the
  header over plain HTTP anyway; sending it only there keeps a development server on
  `http://localhost` from pinning HTTPS for the host.

A header the response sets itself is never replaced.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from ipaddress import ip_address, ip_network

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Header = tuple[bytes, bytes]

ALWAYS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
)
HSTS: Header = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class SecurityHeaders:
    """Which security headers the response to a request gets. Built once per app: the
    trusted proxies' networks are parsed here."""

    def __init__(self, trusted_proxies: list[str]) -> None:
        self._networks = [ip_network(entry, strict=False) for entry in trusted_proxies]

    def added_to(self, scope: Scope, headers: list[Header]) -> list[Header]:
        """`headers` with each security header the response does not set itself appended."""
        present = {name.lower() for name, _ in headers}
        wanted = (*ALWAYS, HSTS) if self.came_over_https(scope) else ALWAYS
        return headers + [header for header in wanted if header[0] not in present]

    def came_over_https(self, scope: Scope) -> bool:
        """Whether the client's request reached us over HTTPS: our own TLS, or a trusted
        proxy's `X-Forwarded-Proto` (its right-most value: what that proxy saw)."""
        if scope.get("scheme") in ("https", "wss"):
            return True
        forwarded = Headers(scope=scope).get("x-forwarded-proto")
        client = scope.get("client")
        if forwarded is None or not client or not self._trusted(str(client[0])):
            return False
        return forwarded.rsplit(",", 1)[-1].strip().lower() == "https"

    def _trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._networks)


class SecurityHeadersMiddleware:
    """Adds the security headers to the start of every HTTP response passing through."""

    def __init__(self, app: ASGIApp, headers: SecurityHeaders) -> None:
        self.app, self._headers = app, headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                message = {**message, "headers": self._headers.added_to(scope, headers)}
            await send(message)

        await self.app(scope, receive, send_secured)


Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def secured(handler: Handler, headers: SecurityHeaders) -> Handler:
    """The catch-all 500 handler, with the security headers on its answer: Starlette runs it
    outside every middleware, so the answer does not pass SecurityHeadersMiddleware."""

    async def answer(request: Request, exc: Exception) -> Response:
        answered = handler(request, exc)
        response = await answered if inspect.isawaitable(answered) else answered
        response.raw_headers = headers.added_to(request.scope, list(response.raw_headers))
        return response

    return answer
