"""`/docs` and `/redoc` with no internet access (docs/http-api.md): every script, style and
icon the pages name is served by the app itself, and Swagger UI's OAuth2 redirect page works.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

BASE = "http://test"
SCRIPT_TYPES = ("text/javascript", "application/javascript")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


class _Assets(HTMLParser):
    """Every URL a page loads: `<script src>`, `<link href>`, `<img src>`, by kind."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        url = named.get("href") if tag == "link" else named.get("src")
        if tag in ("script", "link", "img") and url:
            rel = named.get("rel") or ""
            kind = "icon" if "icon" in rel else "style" if tag == "link" else tag
            self.urls.append((kind, url))


def assets_of(html: str) -> list[tuple[str, str]]:
    parser = _Assets()
    parser.feed(html)
    return parser.urls


def content_type(response: httpx.Response) -> str:
    return response.headers["content-type"].partition(";")[0].strip()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_every_asset_of_the_page_is_served_by_the_app_itself(
    client: httpx.AsyncClient, page: str
):
    response = await client.get(page)
    assert response.status_code == 200
    assert content_type(response) == "text/html"
    assets = assets_of(response.text)
    assert {kind for kind, _ in assets} >= {"script", "icon"}, assets

    for kind, url in assets:
        absolute = urlsplit(urljoin(BASE + page, url))
        assert (absolute.scheme, absolute.netloc) == ("http", "test"), url  # no other host
        asset = await client.get(absolute.path)
        assert asset.status_code == 200, url
        expected = {"script": SCRIPT_TYPES, "style": ("text/css",), "icon": ("image/png",)}
        assert content_type(asset) in expected[kind], (url, asset.headers["content-type"])
        assert asset.content, url


async def test_swagger_ui_loads_its_own_bundle_and_style_and_the_document(
    client: httpx.AsyncClient,
):
    html = (await client.get("/docs")).text
    kinds = {kind for kind, _ in assets_of(html)}

    assert kinds == {"script", "style", "icon"}
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html  # no badge from validator.swagger.io


async def test_redoc_uses_the_systems_fonts_not_googles(client: httpx.AsyncClient):
    html = (await client.get("/redoc")).text

    assert 'spec-url="/openapi.json"' in html
    assert "fonts.googleapis.com" not in html


async def test_the_pages_name_the_oauth2_redirect_page_and_it_completes_the_flow(
    client: httpx.AsyncClient,
):
    html = (await client.get("/docs")).text
    assert "oauth2RedirectUrl: window.location.origin + '/docs/oauth2-redirect'" in html

    response = await client.get("/docs/oauth2-redirect")

    assert response.status_code == 200
    assert content_type(response) == "text/html"
    assert "window.opener.swaggerUIRedirectOauth2" in response.text
    assert assets_of(response.text) == []  # an inline script: nothing to fetch


async def test_the_pages_name_their_assets_under_a_proxys_prefix(app):
    transport = httpx.ASGITransport(app=app, root_path="/portico")
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        html = (await client.get("/docs")).text

    assert all(url.startswith("/portico/docs-assets/") for _, url in assets_of(html)), html
    assert "url: '/portico/openapi.json'" in html


async def test_the_docs_pages_are_left_out_of_the_document(client: httpx.AsyncClient):
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert not [path for path in paths if path.startswith(("/docs", "/redoc"))]
