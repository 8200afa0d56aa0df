"""Authorization across the API (OWASP API1, API3, API5): another user's item or account is a
404 like a missing one, admin routes are a 403 to everyone else, bodies cannot assign
properties they do not name, and no response ever carries a password hash."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.http.conftest import PASSWORD, grant_tokens, unique_email

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = "/api/v1/users"
REGISTER = "/api/v1/auth/register"
API_VERSIONS = ["v1", "v2"]


# --- another user's items ---------------------------------------------------------------------


@pytest.mark.parametrize("api", API_VERSIONS)
@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"title": "hijacked"}), ("DELETE", None)],
)
async def test_answers_every_item_endpoint_on_another_users_item_as_on_a_missing_one(
    client: httpx.AsyncClient, make_item, alice, bob, api: str, method: str, body: object
):
    item = await make_item(alice)
    items = f"/api/{api}/items"

    foreign = await client.request(method, f"{items}/{item['id']}", json=body, headers=bob.headers)
    missing = await client.request(
        method, f"{items}/{uuid.uuid4()}", json=body, headers=bob.headers
    )

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert "etag" not in foreign.headers
    assert (await client.get(f"{items}/{item['id']}", headers=alice.headers)).json() == item


@pytest.mark.parametrize("api", API_VERSIONS)
async def test_lists_none_of_another_users_items(
    client: httpx.AsyncClient, make_item, alice, new_account, api: str
):
    await make_item(alice)
    stranger = await new_account()

    response = await client.get(f"/api/{api}/items", headers=stranger.headers)

    body = response.json()
    assert (body["data"] if api == "v2" else body) == []


async def test_does_not_let_a_conditional_request_probe_another_users_item(
    client: httpx.AsyncClient, make_item, alice, bob
):
    item = await make_item(alice)
    tag = f'"{item["id"]}.{item["version"]}"'

    response = await client.get(
        f"/api/v1/items/{item['id']}", headers={**bob.headers, "If-None-Match": tag}
    )

    assert response.status_code == 404


# --- another user's account, and admin routes -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "", None, 403),
        ("GET", "/{id}", None, 404),
        ("PATCH", "/{id}", {"is_active": False}, 403),
        ("DELETE", "/{id}", None, 403),
    ],
)
async def test_answers_user_endpoints_called_on_another_account(
    client: httpx.AsyncClient,
    alice,
    bob,
    method: str,
    path: str,
    body: object,
    status: int,
):
    response = await client.request(
        method, USERS + path.format(id=bob.id), json=body, headers=alice.headers
    )

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert bob.email not in response.text
    assert (await client.get(f"{USERS}/me", headers=bob.headers)).json()["is_active"] is True


async def test_does_not_let_a_user_administer_their_own_account(client: httpx.AsyncClient, alice):
    promote = await client.patch(
        f"{USERS}/{alice.id}", json={"is_superuser": True}, headers=alice.headers
    )
    delete = await client.delete(f"{USERS}/{alice.id}", headers=alice.headers)

    assert (promote.status_code, delete.status_code) == (403, 403)
    assert (await client.get(f"{USERS}/me", headers=alice.headers)).json()["is_superuser"] is False


# --- mass assignment --------------------------------------------------------------------------

_ACCOUNT_PROPERTIES = {
    "is_superuser": True,
    "is_active": False,
    "id": str(uuid.uuid4()),
    "hashed_password": "$2b$04$abcdefghijklmnopqrstuu",
    "created_at": "2020-01-01T00:00:00Z",
}
_ITEM_PROPERTIES = {
    "owner_id": str(uuid.uuid4()),
    "id": str(uuid.uuid4()),
    "version": 99,
    "created_at": "2020-01-01T00:00:00Z",
}


@pytest.mark.parametrize(("name", "value"), list(_ACCOUNT_PROPERTIES.items()))
async def test_refuses_a_property_on_register_and_creates_nobody(
    client: httpx.AsyncClient, name: str, value: object
):
    email = unique_email()

    response = await client.post(REGISTER, json={"email": email, "password": PASSWORD, name: value})

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", name]]
    again = await client.post(REGISTER, json={"email": email, "password": PASSWORD})
    assert again.status_code == 201


@pytest.mark.parametrize(("name", "value"), [*_ACCOUNT_PROPERTIES.items(), ("password", "x" * 9)])
async def test_refuses_a_property_on_a_profile_change_and_changes_nothing(
    client: httpx.AsyncClient, alice, name: str, value: object
):
    before = (await client.get(f"{USERS}/me", headers=alice.headers)).json()

    response = await client.patch(
        f"{USERS}/me", json={"full_name": "Mallory", name: value}, headers=alice.headers
    )

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", name]]
    assert (await client.get(f"{USERS}/me", headers=alice.headers)).json() == before


@pytest.mark.parametrize("api", API_VERSIONS)
@pytest.mark.parametrize(("name", "value"), list(_ITEM_PROPERTIES.items()))
async def test_refuses_a_property_when_creating_an_item(
    client: httpx.AsyncClient, alice, api: str, name: str, value: object
):
    response = await client.post(
        f"/api/{api}/items", json={"title": "mine", name: value}, headers=alice.headers
    )

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", name]]


@pytest.mark.parametrize("api", API_VERSIONS)
@pytest.mark.parametrize(("name", "value"), list(_ITEM_PROPERTIES.items()))
async def test_refuses_a_property_when_changing_an_item_and_changes_nothing(
    client: httpx.AsyncClient, make_item, alice, bob, api: str, name: str, value: object
):
    item = await make_item(alice)
    url = f"/api/{api}/items/{item['id']}"

    response = await client.patch(url, json={"title": "new", name: value}, headers=alice.headers)

    assert response.status_code == 422
    assert (await client.get(url, headers=alice.headers)).json() == item


# --- no password hash, anywhere ---------------------------------------------------------------


async def test_no_user_endpoint_ever_answers_with_a_password_hash(
    client: httpx.AsyncClient, admin, new_account
):
    email = unique_email()
    account = await new_account()
    target = f"{USERS}/{account.id}"
    tokens = await grant_tokens(client, account.email)
    responses = [
        await client.post(REGISTER, json={"email": email, "password": PASSWORD}),
        await client.post(REGISTER, json={"email": email, "password": PASSWORD}),
        await client.post(REGISTER, json={"email": "x", "password": "$2b$ short"}),
        await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}),
        await client.get(f"{USERS}/me", headers=account.headers),
        await client.patch(f"{USERS}/me", json={"full_name": "A"}, headers=account.headers),
        await client.patch(f"{USERS}/me", json={"email": 1}, headers=account.headers),
        await client.post(
            f"{USERS}/me/password",
            json={"current_password": "wrong one", "new_password": "another one!"},
            headers=account.headers,
        ),
        await client.get(USERS, params={"limit": 100}, headers=admin.headers),
        await client.get(target, headers=admin.headers),
        await client.patch(target, json={"full_name": "B"}, headers=admin.headers),
        await client.get(USERS, headers=account.headers),
        await client.get(f"{USERS}/{admin.id}", headers=account.headers),
    ]

    for response in responses:
        assert response.status_code < 500, response.text
        assert "$2b$" not in response.text
        assert "hashed_password" not in response.text
        assert PASSWORD not in response.text
