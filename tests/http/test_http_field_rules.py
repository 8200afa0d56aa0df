"""The service's own rules (email syntax, the password's bytes, NUL-free text) are 422s that
name the field in `errors[].loc`, as a schema-driven client expects; and the schema states
them, so a validator generated from it agrees with the server."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.http.conftest import PASSWORD

pytestmark = pytest.mark.asyncio(loop_scope="module")

WIDE = "é" * 40  # 40 characters, 80 bytes: under maxLength, over the policy's 72 bytes


def _locs(response: httpx.Response) -> list[list[object]]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [error["loc"] for error in response.json()["errors"]]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"email": "not-an-email", "password": PASSWORD}, ["body", "email"]),
        ({"email": "a@example.com", "password": WIDE}, ["body", "password"]),
        (
            {"email": "a@example.com", "password": PASSWORD, "full_name": "A\x00"},
            ["body", "full_name"],
        ),
    ],
    ids=["email", "password-bytes", "full-name-nul"],
)
async def test_registration_names_the_field_that_breaks_a_rule(
    client: httpx.AsyncClient, body: dict[str, object], loc: list[object]
):
    assert _locs(await client.post("/api/v1/auth/register", json=body)) == [loc]


async def test_a_password_change_names_the_new_password_that_breaks_the_policy(
    client: httpx.AsyncClient, alice
):
    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": WIDE},
        headers=alice.headers,
    )
    assert _locs(response) == [["body", "new_password"]]


@pytest.mark.parametrize("title", ["   ", "a\x00b"], ids=["blank", "nul"])
async def test_an_item_title_breaking_a_rule_is_named(client: httpx.AsyncClient, alice, title):
    response = await client.post("/api/v1/items", json={"title": title}, headers=alice.headers)
    assert _locs(response) == [["body", "title"]]


async def test_the_schema_states_the_rules_the_server_applies(client: httpx.AsyncClient):
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    title = schemas["ItemCreate"]["properties"]["title"]
    pattern = re.compile(title["pattern"].replace("\\x00", "\x00"))
    assert not pattern.search("   ") and not pattern.search("a\x00b") and pattern.search("ok")
    password = schemas["RegisterIn"]["properties"]["password"]
    assert "72 bytes" in password["description"]
    description = schemas["ItemPatch"]["properties"]["description"]["anyOf"][0]
    assert description["pattern"] == "^[^\\x00]*$"


async def test_a_reset_with_a_new_password_breaking_the_policy_names_it(client: httpx.AsyncClient):
    response = await client.post(
        "/api/v1/auth/password-reset", json={"token": "x" * 20, "new_password": "nul \x00 inside"}
    )
    assert _locs(response) == [["body", "new_password"]]


async def test_a_forged_cursor_is_named_in_errors(client: httpx.AsyncClient, alice):
    response = await client.get("/api/v2/items", params={"cursor": "A" * 43}, headers=alice.headers)
    assert _locs(response) == [["query", "cursor"]]


async def test_logout_with_a_json_null_body_is_422_and_ends_nothing(
    client: httpx.AsyncClient, alice
):
    response = await client.post(
        "/api/v1/auth/logout",
        content=b"null",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert _locs(response) == [["body"]]
    assert (await client.get("/api/v1/users/me", headers=alice.headers)).status_code == 200


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "POST", "PUT"])
async def test_the_export_answers_other_methods_405_with_its_own_allow(
    client: httpx.AsyncClient, alice, method: str
):
    response = await client.request(method, "/api/v1/items/export", headers=alice.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
