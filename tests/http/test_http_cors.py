"""CORS for browsers on an allowed origin: what they may read, and refused preflights."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALLOWED = "https://app.example"  # the test settings' CORS_ORIGINS
ITEM = "/api/v1/items/0193a5c4-01b2-7d4e-8f60-5a4b3c2d1e0f"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def _preflight(origin: str, method: str = "PATCH") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method}


@pytest.mark.parametrize(
    "header",
    [
        "X-Request-ID",
        "ETag",
        "Location",
        "X-Total-Count",
        "Link",
        "Deprecation",
        "Retry-After",
        "WWW-Authenticate",
    ],
)
async def test_lets_a_browser_on_an_allowed_origin_read_the_headers_api_md_names(
    client: httpx.AsyncClient, header: str
):
    response = await client.get("/api/v1/users/me", headers={"Origin": ALLOWED})

    assert response.status_code == 401
    exposed = {
        name.strip().lower()
        for name in response.headers["access-control-expose-headers"].split(",")
    }
    assert header.lower() in exposed


@pytest.mark.parametrize(
    ("headers", "refused"),
    [
        (_preflight("https://evil.example"), "origin"),
        (_preflight(ALLOWED, method="PUT"), "method"),
        ({**_preflight(ALLOWED), "Access-Control-Request-Headers": "x-evil"}, "headers"),
    ],
)
async def test_refuses_a_disallowed_preflight_with_a_400_problem(
    client: httpx.AsyncClient, headers: dict[str, str], refused: str
):
    response = await client.options(ITEM, headers=headers)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert (body["type"], body["title"], body["status"]) == ("about:blank", "Bad Request", 400)
    assert refused in body["detail"]
    assert int(response.headers["content-length"]) == len(response.content)
    assert "Origin" in response.headers["vary"]
    assert "access-control-allow-origin" not in response.headers or refused != "origin"
    assert "x-request-id" in response.headers


async def test_still_answers_an_allowed_preflight_with_200(client: httpx.AsyncClient):
    response = await client.options(ITEM, headers=_preflight(ALLOWED))

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
