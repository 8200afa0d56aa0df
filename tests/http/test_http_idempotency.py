"""`Idempotency-Key` on the creating POSTs: a retry gets the first answer, nothing is made twice."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.api import PASSWORD, REGISTER
from tests.http.conftest import Account, unique_email

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"
REUSED = "urn:portico:problem:idempotency-key-reused"
HEADER_LOC = ["header", "Idempotency-Key"]


def keyed(account: Account | None = None, key: str | None = None) -> dict[str, str]:
    """The account's headers (if any) with an Idempotency-Key: a fresh sf-string by default."""
    return {**(account.headers if account else {}), "Idempotency-Key": key or f'"{uuid.uuid4()}"'}


async def _count(client: httpx.AsyncClient, account: Account) -> int:
    response = await client.get(ITEMS, headers=account.headers)
    return int(response.headers["x-total-count"])


def _same_answer(first: httpx.Response, again: httpx.Response) -> None:
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    for name in ("location", "etag", "content-type"):
        assert again.headers.get(name) == first.headers.get(name)


# --- items ------------------------------------------------------------------------------


async def test_a_retry_gets_the_first_answer_again_and_creates_one_item(
    client: httpx.AsyncClient, alice: Account
):
    headers = keyed(alice)
    first = await client.post(ITEMS, json={"title": "Once"}, headers=headers)
    again = await client.post(ITEMS, json={"title": "Once"}, headers=headers)

    _same_answer(first, again)
    assert first.headers["etag"] == f'"{first.json()["id"]}.1"'
    assert await _count(client, alice) == 1


async def test_the_retry_is_the_first_answer_even_after_the_item_changed(
    client: httpx.AsyncClient, alice: Account
):
    headers = keyed(alice)
    first = await client.post(ITEMS, json={"title": "Once"}, headers=headers)
    patched = await client.patch(
        first.headers["location"], json={"title": "Renamed"}, headers=alice.headers
    )
    again = await client.post(ITEMS, json={"title": "Once"}, headers=headers)

    assert patched.status_code == 200
    _same_answer(first, again)


async def test_the_same_key_with_a_different_body_is_a_422_and_creates_nothing(
    client: httpx.AsyncClient, alice: Account
):
    headers = keyed(alice)
    await client.post(ITEMS, json={"title": "Once"}, headers=headers)
    response = await client.post(ITEMS, json={"title": "Twice"}, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == REUSED
    assert [e["loc"] for e in problem["errors"]] == [HEADER_LOC]
    assert await _count(client, alice) == 1


async def test_the_quoted_and_the_bare_key_are_one_key_and_json_layout_does_not_count(
    client: httpx.AsyncClient, alice: Account
):
    key = str(uuid.uuid4())
    first = await client.post(
        ITEMS, json={"title": "Once", "description": "d"}, headers=keyed(alice, f'"{key}"')
    )
    again = await client.post(
        ITEMS,
        content=b'{ "description" : "d",\n  "title": "Once" }',
        headers={**keyed(alice, key), "Content-Type": "application/json"},
    )

    _same_answer(first, again)


async def test_another_users_identical_key_is_unrelated(
    client: httpx.AsyncClient, alice: Account, bob: Account
):
    key = f'"{uuid.uuid4()}"'
    mine = await client.post(ITEMS, json={"title": "Same"}, headers=keyed(alice, key))
    theirs = await client.post(ITEMS, json={"title": "Same"}, headers=keyed(bob, key))

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert (mine.json()["owner_id"], theirs.json()["owner_id"]) == (alice.id, bob.id)


async def test_a_failed_request_is_not_remembered_so_its_key_can_be_retried(
    client: httpx.AsyncClient, alice: Account
):
    headers = keyed(alice)
    failed = await client.post(ITEMS, json={"title": "   "}, headers=headers)
    fixed = await client.post(ITEMS, json={"title": "Fixed"}, headers=headers)
    again = await client.post(ITEMS, json={"title": "Fixed"}, headers=headers)

    assert failed.status_code == 422
    _same_answer(fixed, again)
    assert await _count(client, alice) == 1


async def test_ten_concurrent_identical_requests_create_one_item_and_all_get_it(
    client: httpx.AsyncClient, alice: Account
):
    headers = keyed(alice)
    responses = await asyncio.gather(
        *(client.post(ITEMS, json={"title": "Racing"}, headers=headers) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count(client, alice) == 1


async def test_the_v2_create_takes_the_key_too(client: httpx.AsyncClient, alice: Account):
    headers = keyed(alice)
    first = await client.post("/api/v2/items", json={"title": "Once"}, headers=headers)
    again = await client.post("/api/v2/items", json={"title": "Once"}, headers=headers)

    _same_answer(first, again)
    assert await _count(client, alice) == 1


async def test_without_a_key_every_request_creates(client: httpx.AsyncClient, alice: Account):
    for _ in range(2):
        assert (await client.post(ITEMS, json={"title": "x"}, headers=alice.headers)).is_success
    assert await _count(client, alice) == 2


@pytest.mark.parametrize(
    "value",
    [b'""', b'"unterminated', b'"a b"', b'"a\\b"', b"k" * 256, b'"' + b"k" * 256 + b'"',
     b'"caf\xe9"', b'"a", "b"', b'"abc";p=1'],
    ids=["empty", "unterminated", "space", "bad-escape", "bare-256", "quoted-256", "non-ascii",
         "list", "parameters"],
)  # fmt: skip
async def test_a_malformed_key_is_a_422_naming_the_header(
    client: httpx.AsyncClient, alice: Account, value: bytes
):
    headers = [*alice.headers.items(), ("Idempotency-Key", value)]
    response = await client.post(ITEMS, json={"title": "x"}, headers=headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["loc"] for e in response.json()["errors"]] == [HEADER_LOC]
    assert await _count(client, alice) == 0


async def test_two_keys_in_one_request_are_a_422(client: httpx.AsyncClient, alice: Account):
    headers = [*alice.headers.items(), ("Idempotency-Key", '"a"'), ("Idempotency-Key", '"b"')]
    response = await client.post(ITEMS, json={"title": "x"}, headers=headers)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [HEADER_LOC]


@pytest.mark.parametrize("key", ['"a"', "a", '"' + "k" * 255 + '"', r'"\"hi\"\\o/"', "~!#$%"])
async def test_accepts_keys_of_1_to_255_visible_ascii_characters(
    client: httpx.AsyncClient, alice: Account, key: str
):
    response = await client.post(ITEMS, json={"title": "x"}, headers=keyed(alice, key))

    assert response.status_code == 201


# --- registration -----------------------------------------------------------------------


async def test_a_registration_retry_gets_the_first_account_again(client: httpx.AsyncClient):
    body, headers = {"email": unique_email(), "password": PASSWORD}, keyed()
    first = await client.post(REGISTER, json=body, headers=headers)
    again = await client.post(REGISTER, json=body, headers=headers)
    unkeyed = await client.post(REGISTER, json=body)

    _same_answer(first, again)
    assert first.headers["location"] == f"/api/v1/users/{first.json()['id']}"
    assert unkeyed.status_code == 409


async def test_a_registration_key_reused_for_another_body_is_a_422(client: httpx.AsyncClient):
    headers = keyed()
    await client.post(
        REGISTER, json={"email": unique_email(), "password": PASSWORD}, headers=headers
    )
    other = {"email": unique_email(), "password": PASSWORD}
    response = await client.post(REGISTER, json=other, headers=headers)
    sign_in = {"grant_type": "password", "username": other["email"], "password": PASSWORD}

    assert response.status_code == 422
    assert response.json()["type"] == REUSED
    assert (await client.post("/api/v1/auth/token", data=sign_in)).status_code == 400


# --- documentation ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [ITEMS, "/api/v2/items", REGISTER])
async def test_the_header_and_its_422_are_documented(client: httpx.AsyncClient, path: str):
    operation: dict[str, Any] = (await client.get("/openapi.json")).json()["paths"][path]["post"]
    [header] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]

    assert (header["in"], header.get("required", False)) == ("header", False)
    [string] = [s for s in header["schema"].get("anyOf", [header["schema"]]) if "pattern" in s]
    assert "{1,255}" in string["pattern"]
    assert "first answer" in header["description"]
    assert "idempotency-key-reused" in operation["responses"]["422"]["description"]
