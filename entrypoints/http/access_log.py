"""The access log: one record per HTTP request, from a pure ASGI middleware.

Each record (logger `portico.access`, level INFO) carries `method`, `route` (the route's
template, `/api/v1/items/{item_id}`, or `unmatched`: never the raw path, and never the query
string), `status`, `duration_ms` and `client` (as resolved through TRUSTED_PROXIES), and the
request id like every record logged while the request is served. uvicorn's own access log is
off: it would log the raw path and query, and the peer rather than the client.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from entrypoints.http.clients import ClientAddressResolver
from entrypoints.http.metrics import ResponseStatus, RouteTemplates

ACCESS_LOGGER = "portico.access"

log = logging.getLogger(ACCESS_LOGGER)


class AccessLogMiddleware:
    """Logs each HTTP request once, when the app is done with it (WebSockets are not logged:
    uvicorn reports their handshakes).

    The status is the one the app started its response with; when the app raised before
    starting one, 500, which Starlette's outermost error handler then sends. The duration runs
    until the last byte of the body was handed on (a streamed body's whole time). The route is
    named as the metrics name it (`RouteTemplates`), so a log line and a series match. Placed
    outside HeadMiddleware, so that a HEAD is logged as one.
    """

    def __init__(
        self, app: ASGIApp, client_addresses: ClientAddressResolver, routes: Sequence[BaseRoute]
    ) -> None:
        self.app, self._client_addresses = app, client_addresses
        self._templates = RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started, response = time.perf_counter(), ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            self._log(scope, response.status, duration_ms)

    def _log(self, scope: Scope, status: int, duration_ms: float) -> None:
        method, route = scope["method"], self._templates.of(scope)
        forwarded_for = Headers(scope=scope).get("x-forwarded-for")
        client = self._client_addresses(_peer(scope), forwarded_for)
        fields = {"method": method, "route": route, "status": status}
        fields |= {"duration_ms": duration_ms, "client": client}
        log.info("%s %s %d %.2fms %s", method, route, status, duration_ms, client, extra=fields)


def _peer(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
