"""/api/v2/items: the v1 item endpoints again, and the keyset-paged collection."""

from __future__ import annotations

import base64

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v2/items"


async def test_serves_the_item_endpoints_under_v2(client: httpx.AsyncClient, alice):
    response = await client.post(ITEMS, json={"title": "v2 item"}, headers=alice.headers)
    item = response.json()
    url = f"{ITEMS}/{item['id']}"

    assert response.status_code == 201
    assert response.headers["location"] == url
    assert (await client.get(url, headers=alice.headers)).json() == item
    assert (await client.get(f"/api/v1/items/{item['id']}", headers=alice.headers)).json() == item
    assert (await client.patch(url, json={"title": "x"}, headers=alice.headers)).status_code == 200
    assert (await client.delete(url, headers=alice.headers)).status_code == 204


async def test_pages_through_every_own_item_by_cursor(
    client: httpx.AsyncClient, make_item, new_account, bob
):
    account = await new_account()
    made = [await make_item(account, "v2", title=f"item {n}") for n in range(5)]
    await make_item(bob, "v2", title="not theirs")

    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        response = await client.get(ITEMS, params=params, headers=account.headers)
        assert response.status_code == 200
        page = response.json()
        assert set(page) == {"data", "next_cursor"}
        assert len(page["data"]) <= 2
        seen += page["data"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert pages == 3
    assert sorted(i["id"] for i in seen) == sorted(i["id"] for i in made)
    assert [i["id"] for i in seen] == sorted(i["id"] for i in seen)
    assert "deprecation" not in response.headers


async def test_returns_an_empty_last_page_for_a_user_with_no_items(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()

    response = await client.get(ITEMS, headers=account.headers)

    assert response.json() == {"data": [], "next_cursor": None}


async def test_returns_422_for_a_tampered_cursor(client: httpx.AsyncClient, make_item, new_account):
    account = await new_account()
    for n in range(3):
        await make_item(account, "v2", title=f"item {n}")
    first = await client.get(ITEMS, params={"limit": 1}, headers=account.headers)
    cursor = first.json()["next_cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[0] ^= 0xFF
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()

    for bad in (tampered, "not a cursor!", "AAAA", cursor[:-2]):
        response = await client.get(ITEMS, params={"cursor": bad}, headers=account.headers)
        assert response.status_code == 422, bad
        assert response.headers["content-type"] == "application/problem+json"


async def test_returns_422_for_another_users_cursor(
    client: httpx.AsyncClient, make_item, alice, bob
):
    for n in range(2):
        await make_item(alice, "v2", title=f"item {n}")
    cursor = (await client.get(ITEMS, params={"limit": 1}, headers=alice.headers)).json()[
        "next_cursor"
    ]

    response = await client.get(ITEMS, params={"cursor": cursor}, headers=bob.headers)

    assert response.status_code == 422


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"cursor": "c" * 1000}])
async def test_returns_422_for_an_out_of_range_request(client: httpx.AsyncClient, alice, params):
    response = await client.get(ITEMS, params=params, headers=alice.headers)

    assert response.status_code == 422


async def test_returns_401_without_a_token(client: httpx.AsyncClient):
    response = await client.get(ITEMS)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_cursor_the_schema_refuses_is_named_in_errors(client: httpx.AsyncClient, alice):
    for bad in ("not a cursor!", "AAAA", "A" * 44):
        response = await client.get(ITEMS, params={"cursor": bad}, headers=alice.headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["loc"] == ["query", "cursor"]
