"""/api/v1/items: create, read, delete, ownership, the superuser, the deprecated collection."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from entrypoints.http.rendering import ITEM_FIELDS

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"


def etag(item: dict) -> str:
    return f'"{item["id"]}.{item["version"]}"'


# --- create -----------------------------------------------------------------------------


async def test_creates_an_item_with_201_location_and_etag(client: httpx.AsyncClient, alice):
    response = await client.post(ITEMS, json={"title": "Buy milk"}, headers=alice.headers)

    assert response.status_code == 201
    item = response.json()
    assert response.headers["location"] == f"{ITEMS}/{item['id']}"
    assert response.headers["etag"] == f'"{item["id"]}.1"'
    assert item["owner_id"] == alice.id
    assert (item["title"], item["description"], item["version"]) == ("Buy milk", None, 1)
    assert item["created_at"] == item["updated_at"]
    assert item["created_at"].endswith("Z")


async def test_returns_401_when_creating_without_a_token(client: httpx.AsyncClient):
    response = await client.post(ITEMS, json={"title": "x"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "   "},
        {"title": "t" * 256},
        {"title": None},
        {"title": "ok", "description": "d" * 10_001},
        {"title": "ok", "owner_id": str(uuid.uuid4())},
        {"title": "ok", "version": 7},
        [],
    ],
    ids=[
        "empty",
        "blank",
        "spaces",
        "title-256",
        "title-null",
        "long-desc",
        "owner",
        "version",
        "list",
    ],
)
async def test_returns_422_for_an_invalid_item(client: httpx.AsyncClient, alice, body: object):
    response = await client.post(ITEMS, json=body, headers=alice.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_returns_422_for_malformed_json(client: httpx.AsyncClient, alice):
    headers = {**alice.headers, "Content-Type": "application/json"}

    response = await client.post(ITEMS, content=b"{'title': 1", headers=headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_accepts_the_longest_title_and_description(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice, title="t" * 255, description="d" * 10_000)

    assert len(item["title"]) == 255 and len(item["description"]) == 10_000


# --- read -------------------------------------------------------------------------------


async def test_reads_an_item_with_its_etag(client: httpx.AsyncClient, make_item, alice):
    item = await make_item(alice, description="Two litres")

    response = await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == item
    assert response.headers["etag"] == etag(item)
    assert response.headers["content-type"] == "application/json"


async def test_renders_an_item_byte_for_byte_in_the_documented_order(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice, description="Two litres «ü»\n")
    response = await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers)

    expected = (
        f'{{"id":"{item["id"]}","owner_id":"{alice.id}","title":"Buy milk",'
        '"description":"Two litres «ü»\\n","version":1,'
        f'"created_at":"{item["created_at"]}","updated_at":"{item["updated_at"]}"}}'
    )
    assert response.content == expected.encode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", item["created_at"])


async def test_every_item_response_renders_an_item_with_the_same_bytes(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()
    created = await client.post(ITEMS, json={"title": "one"}, headers=account.headers)
    url = f"{ITEMS}/{created.json()['id']}"
    read = await client.get(url, headers=account.headers)
    v1_page = await client.get(ITEMS, headers=account.headers)
    v2_page = await client.get("/api/v2/items", headers=account.headers)
    changed = await client.patch(url, json={"title": "two"}, headers=account.headers)
    reread = await client.get(url, headers=account.headers)

    assert created.content == read.content
    assert v1_page.content == b"[" + read.content + b"]"
    assert v2_page.content == b'{"data":[' + read.content + b'],"next_cursor":null}'
    assert changed.content == reread.content != read.content


async def test_an_items_body_has_exactly_the_fields_its_schema_documents(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice)
    document = (await client.get("/openapi.json")).json()
    schema = document["components"]["schemas"]["ItemOut"]

    assert list(item) == list(schema["properties"]) == list(ITEM_FIELDS)
    assert set(schema["required"]) == set(item)


async def test_answers_another_users_item_exactly_as_a_missing_one(
    client: httpx.AsyncClient, make_item, alice, bob
):
    item = await make_item(alice)

    foreign = await client.get(f"{ITEMS}/{item['id']}", headers=bob.headers)
    missing = await client.get(f"{ITEMS}/{uuid.uuid4()}", headers=bob.headers)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert foreign.headers["content-type"] == "application/problem+json"


async def test_returns_422_for_an_id_that_is_not_a_uuid(client: httpx.AsyncClient, alice):
    response = await client.get(f"{ITEMS}/not-a-uuid", headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "item_id"]


# --- delete -----------------------------------------------------------------------------


async def test_deletes_an_item(client: httpx.AsyncClient, make_item, alice):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"

    response = await client.delete(url, headers=alice.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(url, headers=alice.headers)).status_code == 404
    assert (await client.delete(url, headers=alice.headers)).status_code == 404


async def test_returns_404_when_deleting_another_users_item(
    client: httpx.AsyncClient, make_item, alice, bob
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"

    response = await client.delete(url, headers=bob.headers)

    assert response.status_code == 404
    assert (await client.get(url, headers=alice.headers)).status_code == 200


# --- superuser --------------------------------------------------------------------------


async def test_lets_a_superuser_read_change_and_delete_any_item(
    client: httpx.AsyncClient, make_item, alice, admin
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"

    read = await client.get(url, headers=admin.headers)
    changed = await client.patch(url, json={"title": "by admin"}, headers=admin.headers)
    deleted = await client.delete(url, headers=admin.headers)

    assert read.status_code == 200
    assert changed.status_code == 200 and changed.json()["owner_id"] == alice.id
    assert deleted.status_code == 204


# --- list (v1, deprecated) ---------------------------------------------------------------


async def test_lists_own_items_oldest_first_with_total_and_deprecation(
    client: httpx.AsyncClient, make_item, alice, bob
):
    mine = [await make_item(alice, title=f"item {n}") for n in range(3)]
    await make_item(bob, title="not alice's")

    response = await client.get(ITEMS, params={"skip": 1, "limit": 1}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == [mine[1]]
    assert response.headers["x-total-count"] == "3"
    assert response.headers["deprecation"].startswith("@")
    assert response.headers["link"] == '</api/v2/items>; rel="successor-version"'


async def test_lists_at_most_50_items_by_default(client: httpx.AsyncClient, make_item, new_account):
    account = await new_account()
    for n in range(51):
        await make_item(account, title=f"item {n}")

    response = await client.get(ITEMS, headers=account.headers)

    assert len(response.json()) == 50
    assert response.headers["x-total-count"] == "51"


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"skip": -1}, {"skip": 10**12}, {"limit": "x"}],
)
async def test_returns_422_for_an_out_of_range_page(client: httpx.AsyncClient, alice, params):
    response = await client.get(ITEMS, params=params, headers=alice.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", next(iter(params))]


async def test_returns_401_when_listing_without_a_token(client: httpx.AsyncClient):
    assert (await client.get(ITEMS)).status_code == 401
