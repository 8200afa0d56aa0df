"""POST /api/v1/auth/register: 201 with Location, 409 in any case, 422 for input and policy."""

from __future__ import annotations

import httpx
import pytest

from tests.api import PASSWORD, REGISTER, TOKEN, grant, register

pytestmark = pytest.mark.asyncio(loop_scope="module")


# --- register -----------------------------------------------------------------------------


async def test_registers_a_user_with_201_and_location(client: httpx.AsyncClient, email: str):
    response = await register(client, email=email, password=PASSWORD, full_name="Ada")

    assert response.status_code == 201
    user = response.json()
    assert response.headers["location"] == f"/api/v1/users/{user['id']}"
    assert user["email"] == email
    assert user["full_name"] == "Ada"
    assert (user["is_active"], user["is_superuser"]) == (True, False)
    assert user["created_at"].endswith("Z")
    assert set(user) == {"id", "email", "full_name", "is_active", "is_superuser", "created_at"}


async def test_stores_the_email_in_lower_case(client: httpx.AsyncClient, email: str):
    response = await register(client, email=email.upper(), password=PASSWORD)

    assert response.status_code == 201
    assert response.json()["email"] == email


async def test_returns_409_when_email_already_registered_in_any_case(
    client: httpx.AsyncClient, email: str
):
    assert (await register(client, email=email, password=PASSWORD)).status_code == 201

    response = await register(client, email=email.upper(), password=PASSWORD)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 409
    assert set(problem) == {"type", "title", "status", "detail"}


@pytest.mark.parametrize("bad", ["not-an-email", "a@b", "two@@example.com", "", "x" * 300])
async def test_returns_422_for_an_invalid_email(client: httpx.AsyncClient, bad: str):
    response = await register(client, email=bad, password=PASSWORD)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "password",
    ["Zq9!x", "é" * 37, "a" * 73, "b" * 5000],
    ids=["short", "74-utf8-bytes-in-37-chars", "73-chars", "huge"],
)
async def test_returns_422_for_a_password_outside_the_policy(
    client: httpx.AsyncClient, email: str, password: str
):
    response = await register(client, email=email, password=password)

    assert response.status_code == 422
    assert password not in response.text  # the rejected input is never echoed back


async def test_accepts_a_password_of_exactly_72_bytes(client: httpx.AsyncClient, email: str):
    response = await register(client, email=email, password="é" * 36)

    assert response.status_code == 201


async def test_returns_422_for_an_unknown_field_and_creates_nobody(
    client: httpx.AsyncClient, email: str
):
    response = await register(client, email=email, password=PASSWORD, is_superuser=True)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "is_superuser"]]
    assert (await client.post(TOKEN, data=grant(email))).status_code == 400


async def test_returns_422_for_malformed_json(client: httpx.AsyncClient):
    response = await client.post(
        REGISTER, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_concurrent_registrations_of_one_email_give_one_201_and_one_409(
    client: httpx.AsyncClient, email: str
):
    import asyncio

    responses = await asyncio.gather(
        register(client, email=email, password=PASSWORD),
        register(client, email=email.upper(), password=PASSWORD),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]


async def test_registrations_from_one_address_are_rate_limited_with_429(own_client):
    async with own_client(register_limit_per_address=2) as client:
        statuses = [
            (await register(client, email=f"r{n}@example.com", password=PASSWORD)).status_code
            for n in range(3)
        ]
        limited = await register(client, email="r9@example.com", password=PASSWORD)
    assert statuses == [201, 201, 429]
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) > 0
