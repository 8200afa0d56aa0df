"""/api/v1/items: PATCH (absent vs null), ETags, If-Match → 412 and If-None-Match → 304."""

from __future__ import annotations

import uuid

import httpx
import pytest

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"


def etag(item: dict) -> str:
    return f'"{item["id"]}.{item["version"]}"'


# --- If-None-Match ----------------------------------------------------------------------


@pytest.mark.parametrize("template", ["{tag}", "W/{tag}", '"x", {tag}', "*"])
async def test_returns_304_when_if_none_match_matches(
    client: httpx.AsyncClient, make_item, alice, template: str
):
    item = await make_item(alice)
    headers = {**alice.headers, "If-None-Match": template.format(tag=etag(item))}

    response = await client.get(f"{ITEMS}/{item['id']}", headers=headers)

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag(item)


async def test_returns_200_when_if_none_match_names_an_older_version(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    await client.patch(url, json={"title": "Buy bread"}, headers=alice.headers)

    response = await client.get(url, headers={**alice.headers, "If-None-Match": etag(item)})

    assert response.status_code == 200
    assert response.json()["version"] == 2


# --- update -----------------------------------------------------------------------------


async def test_updates_an_item_and_returns_the_new_etag(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice, description="old")

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"title": "Buy bread"}, headers=alice.headers
    )

    assert response.status_code == 200
    updated = response.json()
    assert (updated["title"], updated["description"], updated["version"]) == (
        "Buy bread",
        "old",
        2,
    )
    assert response.headers["etag"] == f'"{item["id"]}.2"'


async def test_clears_the_description_with_an_explicit_null(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice, description="old")

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"description": None}, headers=alice.headers
    )

    assert response.json()["description"] is None
    assert response.json()["title"] == "Buy milk"


async def test_leaves_everything_alone_for_an_empty_patch(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice, description="keep")

    response = await client.patch(f"{ITEMS}/{item['id']}", json={}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json() == item


@pytest.mark.parametrize(
    "body", [{"title": None}, {"title": ""}, {"title": "t" * 256}, {"version": 9}]
)
async def test_returns_422_for_an_invalid_patch(
    client: httpx.AsyncClient, make_item, alice, body: dict
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"

    response = await client.patch(url, json=body, headers=alice.headers)

    assert response.status_code == 422
    assert (await client.get(url, headers=alice.headers)).json() == item


async def test_updates_when_if_match_names_the_current_version(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice)
    headers = {**alice.headers, "If-Match": etag(item)}

    response = await client.patch(f"{ITEMS}/{item['id']}", json={"title": "x"}, headers=headers)

    assert response.status_code == 200
    assert response.json()["version"] == 2


@pytest.mark.parametrize(
    "if_match",
    [
        "{stale}",
        "W/{current}",
        '"{other}.1"',
        '"{id}.abc"',
        '"{other}.1", {stale}',
        "{current_unquoted}",
        "garbage",
    ],
)
async def test_returns_412_and_changes_nothing_when_if_match_does_not_match(
    client: httpx.AsyncClient, make_item, alice, if_match: str
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    current = (await client.patch(url, json={"title": "v2"}, headers=alice.headers)).json()
    header = if_match.format(
        stale=etag(item),
        current=etag(current),
        current_unquoted=etag(current).strip('"'),
        other=uuid.uuid4(),
        id=item["id"],
    )

    response = await client.patch(
        url, json={"title": "v3"}, headers={**alice.headers, "If-Match": header}
    )

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=alice.headers)).json() == current


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
@pytest.mark.parametrize("if_match", [""])
async def test_an_empty_if_match_is_422_and_changes_nothing(
    client: httpx.AsyncClient, make_item, alice, if_match: str, method: str
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    header = if_match.format(current_unquoted=etag(item).strip('"'), id=item["id"])

    response = await client.request(
        method, url, json={"title": "v2"} if method == "PATCH" else None,
        headers={**alice.headers, "If-Match": header},
    )  # fmt: skip

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["header", "if-match"]
    assert (await client.get(url, headers=alice.headers)).json() == item


async def test_updates_when_any_tag_of_an_if_match_list_matches(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    header = f'"{item["id"]}.7", {etag(item)}'

    response = await client.patch(
        url, json={"title": "x"}, headers={**alice.headers, "If-Match": header}
    )

    assert response.status_code == 200


@pytest.mark.parametrize("if_match", ["*", "{current}", '"{id}.9", {current}'])
async def test_deletes_when_if_match_matches(client: httpx.AsyncClient, make_item, alice, if_match):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    header = if_match.format(current=etag(item), id=item["id"])

    response = await client.delete(url, headers={**alice.headers, "If-Match": header})

    assert response.status_code == 204
    assert (await client.get(url, headers=alice.headers)).status_code == 404


async def test_a_delete_with_a_stale_if_match_is_412_and_keeps_the_item(
    client: httpx.AsyncClient, make_item, alice
):
    item = await make_item(alice)
    url = f"{ITEMS}/{item['id']}"
    current = (await client.patch(url, json={"title": "v2"}, headers=alice.headers)).json()

    response = await client.delete(url, headers={**alice.headers, "If-Match": etag(item)})

    assert response.status_code == 412
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=alice.headers)).json() == current


async def test_returns_404_when_patching_another_users_item(
    client: httpx.AsyncClient, make_item, alice, bob
):
    item = await make_item(alice)

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"title": "mine"}, headers=bob.headers
    )

    assert response.status_code == 404
