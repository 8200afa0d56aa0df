"""A JSON endpoint sent a body of another declared type answers 415 with a problem body."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/plain; charset=utf-8"]
)
async def test_a_json_body_under_another_content_type_is_415(
    client: httpx.AsyncClient, alice, content_type: str
):
    response = await client.post(
        "/api/v1/items",
        content=json.dumps({"title": "hello"}),
        headers={**alice.headers, "Content-Type": content_type},
    )
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("unsupported-media-type")


@pytest.mark.parametrize("content_type", ["application/json", "application/merge-patch+json"])
async def test_json_types_are_still_parsed(client: httpx.AsyncClient, alice, content_type: str):
    response = await client.post(
        "/api/v1/items",
        content=json.dumps({"title": "hello"}),
        headers={**alice.headers, "Content-Type": content_type},
    )
    assert response.status_code == 201, response.text


async def test_a_bad_json_body_is_still_422_naming_the_field(client: httpx.AsyncClient, alice):
    response = await client.post("/api/v1/items", json={"title": 5}, headers=alice.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "title"]
