"""Metrics at the HTTP edge, as a pure ASGI middleware: every request counted and timed under
its route template, and `GET /metrics` answered to the clients METRICS_ALLOW names.

`/metrics` is not a route: to anyone outside METRICS_ALLOW the request goes on to the app,
which answers it exactly as any path it does not know (404, whatever the method), and it is
in no OpenAPI document. What is counted is entrypoints/metrics.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from time import perf_counter
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.http.clients import ClientAddressResolver
from entrypoints.metrics import Metrics

METRICS_PATH = "/metrics"
UNMATCHED = "unmatched"
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class RouteTemplates:
    """The route template a request was served under (`/api/v1/items/{item_id}`), or
    `unmatched` when no route has its path.

    The router leaves the route it chose in `scope["route"]`, read here for free. A request
    the router never saw with this scope (a HEAD, which HeadMiddleware passes on as a GET in a
    scope of its own; one refused before routing; a 404) is matched against the routes once,
    as the router would: in order, the first route of the path and method, else the first of
    the path (a 405).
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self._routes = routes  # read at the first request: every route is there by then
        self._table: list[tuple[Any, frozenset[str] | None, str]] | None = None
        self._by_route: dict[int, str] = {}

    def of(self, scope: Scope) -> str:
        """The template for this request, once the app has answered it."""
        if self._table is None:
            self._build()
        route = scope.get("route")
        if route is not None:
            template = self._by_route.get(id(route))
            if template is not None:
                return template
        return self._match(scope)

    def _build(self) -> None:
        table: list[tuple[Any, frozenset[str] | None, str]] = []
        templates: dict[int, set[str]] = {}
        for context in iter_route_contexts(self._routes):
            template = context.path_format
            if template is None or isinstance(context.original_route, WebSocketRoute):
                continue  # never an HTTP request's
            methods = None if context.methods is None else frozenset(context.methods)
            table.append((context.path_regex, methods, template))
            templates.setdefault(id(context.original_route), set()).add(template)
        self._table = table
        # A route included twice (two prefixes) has no one template: such are matched.
        self._by_route = {key: paths.pop() for key, paths in templates.items() if len(paths) == 1}

    def _match(self, scope: Scope) -> str:
        assert self._table is not None
        path = scope["path"]
        # The app's own prefix: a mount (the docs assets) lengthens `root_path` by its own.
        root = scope.get("app_root_path", scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        partial = None
        for regex, methods, template in self._table:
            if regex.match(path):
                if methods is None or method in methods:
                    return template
                partial = partial or template
        return partial or UNMATCHED


class ResponseStatus:
    """A `send` that notes the status the response started with: 500 until one is sent (the
    app failed before answering)."""

    def __init__(self, send: Send) -> None:
        self.status, self._send = 500, send

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class MetricsAllowList:
    """Whether a client may read `/metrics`: its address, resolved through TRUSTED_PROXIES,
    is inside one of the networks of METRICS_ALLOW (an IPv4-mapped IPv6 address counts as
    the IPv4 address it carries)."""

    def __init__(self, allow: Iterable[str], client_addresses: ClientAddressResolver) -> None:
        self._networks: list[IPv4Network | IPv6Network] = [
            ip_network(entry, strict=False) for entry in allow
        ]
        self._resolve = client_addresses

    def allows(self, scope: Scope) -> bool:
        """Whether the request comes from a client that METRICS_ALLOW names."""
        client = scope.get("client")
        address = self._resolve(client[0] if client else None, _forwarded_for(scope))
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        mapped = getattr(parsed, "ipv4_mapped", None)
        return any(
            parsed in net or (mapped is not None and mapped in net) for net in self._networks
        )


def _forwarded_for(scope: Scope) -> str | None:
    """Every `X-Forwarded-For` line as one list: a proxy may add a line rather than extend
    the client's, and the right-most hops are the ones the proxies wrote."""
    lines = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    return ", ".join(lines) if lines else None


class HttpMetricsMiddleware:
    """Counts and times every HTTP request (`portico_http_requests_total`,
    `portico_http_request_duration_seconds`) and answers `GET`/`HEAD /metrics` to the clients
    of `allow`. A request the app fails with an exception before answering counts as a 500,
    the answer Starlette then gives. The app's lifespan runs inside `metrics.sampling()`.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        routes: Sequence[BaseRoute],
        allow: Iterable[str],
        client_addresses: ClientAddressResolver,
    ) -> None:
        self.app, self._metrics = app, metrics
        self._templates = RouteTemplates(routes)
        self._allow = MetricsAllowList(allow, client_addresses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                async with self._metrics.sampling():
                    await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if scope["path"] == METRICS_PATH and self._is_scrape(scope):
            await self._scrape(scope, send)
            return
        started, response = perf_counter(), ResponseStatus(send)
        try:
            await self.app(scope, receive, response)
        finally:
            route, seconds = self._templates.of(scope), perf_counter() - started
            self._metrics.request_finished(scope["method"], route, response.status, seconds)

    def _is_scrape(self, scope: Scope) -> bool:
        return scope["method"] in ("GET", "HEAD") and self._allow.allows(scope)

    async def _scrape(self, scope: Scope, send: Send) -> None:
        started = perf_counter()
        body = await self._metrics.render()
        headers = [
            (b"content-type", CONTENT_TYPE),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )
        self._metrics.request_finished(scope["method"], METRICS_PATH, 200, perf_counter() - started)
