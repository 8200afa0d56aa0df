"""`/docs` (Swagger UI) and `/redoc` (ReDoc) with no internet access: every script, style and
icon the pages load is served by the service itself, from `static/` (see its README for the
vendored versions and licences), under `/docs-assets/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/docs-assets"
DOCS_PATH, REDOC_PATH = "/docs", "/redoc"
SWAGGER_JS = "/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "/swagger-ui/swagger-ui.css"
FAVICON = "/swagger-ui/favicon-32x32.png"
REDOC_JS = "/redoc/redoc.standalone.js"


class DocsAssets(StaticFiles):
    """The vendored files, revalidated by their ETag on every use (`no-cache`), so that a
    browser never runs an old Swagger UI against a newer service."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        """Starlette's file (or 304) response, with `Cache-Control: no-cache`."""
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_docs(app: FastAPI) -> None:
    """Serve `/docs` with its OAuth2 redirect page, `/redoc` and their assets on this app,
    which must have been built with `docs_url=None, redoc_url=None` (FastAPI's own pages load
    their assets from a CDN)."""
    assert app.openapi_url is not None, "the docs need the OpenAPI document"
    openapi_url, redirect_url = app.openapi_url, app.swagger_ui_oauth2_redirect_url
    app.mount(ASSETS_PATH, DocsAssets(directory=STATIC_DIR), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=root + ASSETS_PATH + SWAGGER_JS,
            swagger_css_url=root + ASSETS_PATH + SWAGGER_CSS,
            swagger_favicon_url=root + ASSETS_PATH + FAVICON,
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            # no validator badge: it would load an image from validator.swagger.io
            swagger_ui_parameters={"validatorUrl": None, **(app.swagger_ui_parameters or {})},
        )

    async def oauth2_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=root + ASSETS_PATH + REDOC_JS,
            redoc_favicon_url=root + ASSETS_PATH + FAVICON,
            with_google_fonts=False,  # the system's fonts: Google's would need the internet
        )

    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)
    if redirect_url:
        app.add_route(redirect_url, oauth2_redirect, include_in_schema=False)
    app.add_route(REDOC_PATH, redoc, include_in_schema=False)


def _root_path(request: Request) -> str:
    """The prefix a proxy serves the app under (ASGI `root_path`), as FastAPI's pages use."""
    return str(request.scope.get("root_path", "")).rstrip("/")
