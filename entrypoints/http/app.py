"""`create_app(container)`: the FastAPI application, wired to a container it does not build."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from entrypoints.container import Container, close_resources, open_resources
from entrypoints.http.access_log import AccessLogMiddleware
from entrypoints.http.clients import ClientAddressResolver
from entrypoints.http.cors import ProblemCORSMiddleware
from entrypoints.http.docs import install_docs
from entrypoints.http.errors import install_error_handlers
from entrypoints.http.head import HeadMiddleware
from entrypoints.http.metrics import HttpMetricsMiddleware
from entrypoints.http.middleware import (
    REQUEST_ID_HEADER,
    BodySizeLimitMiddleware,
    RequestIdMiddleware,
)
from entrypoints.http.openapi import PorticoAPI
from entrypoints.http.routers import attachments, auth, health, items, items_v2, users, ws
from entrypoints.http.security_headers import SecurityHeaders, SecurityHeadersMiddleware, secured

DESCRIPTION = """Users and their items over a versioned REST API.

Errors are RFC 9457 problem details (`application/problem+json`), except at the OAuth2 token
endpoint (RFC 6749 §5.2). Every response carries `X-Request-ID`.
"""

TAGS = [
    {
        "name": "auth",
        "description": "Registration, the OAuth2 token endpoint (password and refresh grants),"
        " logout, password recovery and reset.",
    },
    {"name": "users", "description": "Your account; superusers administer everyone's."},
    {"name": "items", "description": "Items, API v1 (the collection is deprecated)."},
    {"name": "items v2", "description": "Items, API v2: keyset-paged collection."},
    {
        "name": "attachments",
        "description": "Files kept with an item: streamed uploads, ranged downloads.",
    },
    {"name": "health", "description": "Liveness and readiness probes."},
]

_EXPOSED = [REQUEST_ID_HEADER, "ETag", "Location", "X-Total-Count", "Link", "Deprecation"]
_EXPOSED += ["Retry-After", "WWW-Authenticate"]  # 429/503 and 401 answers
_EXPOSED += ["Content-Disposition", "Content-Range", "Accept-Ranges"]  # attachment downloads
_ALLOWED = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "Range",
    "If-Range",
    REQUEST_ID_HEADER,
]


def _version() -> str:
    try:
        return version("portico")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0.0.0"


def create_app(container: Container) -> FastAPI:
    """The API over this container; the lifespan closes the container's resources at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        jobs = await open_resources(container, serve_jobs=True)
        try:
            yield
        finally:
            await jobs.stop()
            await close_resources(container)

    app = PorticoAPI(
        title="Portico",
        version=_version(),
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # install_docs: the pages with assets of our own, not a CDN's
        redoc_url=None,
        # FastAPI's OpenTelemetry hooks would check for providers on every request; Portico
        # exports no OpenTelemetry, so they stay off (they cost the hottest read ~5 %).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    settings = container.settings()
    app.state.container = container
    app.state.hub = container.live_updates()
    app.state.client_addresses = ClientAddressResolver(settings.trusted_proxies)
    security_headers = SecurityHeaders(settings.trusted_proxies)
    app.state.security_headers = security_headers  # also tells the WebSocket origin check https
    install_error_handlers(app)
    app.add_exception_handler(
        Exception, secured(app.exception_handlers[Exception], security_headers)
    )
    for module in (items, items_v2, attachments, users, auth, health, ws):  # hot paths first
        app.include_router(module.router)
    install_docs(app)
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=_ALLOWED,
            expose_headers=_EXPOSED,
            max_age=600,
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_request_body_bytes,
        own_limits=[attachments.UPLOAD_ROUTE],  # bounded by MAX_UPLOAD_BYTES, as it streams
    )
    app.add_middleware(HeadMiddleware)  # all inside it see a GET
    app.add_middleware(
        HttpMetricsMiddleware,  # outside HeadMiddleware: a HEAD is counted as a HEAD
        metrics=container.metrics(),
        routes=app.router.routes,
        allow=settings.metrics_allow,
        client_addresses=app.state.client_addresses,
    )
    app.add_middleware(
        AccessLogMiddleware, client_addresses=app.state.client_addresses, routes=app.router.routes
    )
    app.add_middleware(SecurityHeadersMiddleware, headers=security_headers)  # error answers too
    app.add_middleware(RequestIdMiddleware)  # added last, so outermost: ids on CORS answers too
    return app
