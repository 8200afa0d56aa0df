"""GET /api/v1/users/me and Bearer authentication (RFC 6750) on it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.container import Container

pytestmark = pytest.mark.asyncio(loop_scope="module")

ME = "/api/v1/users/me"


async def test_returns_the_callers_account(client: httpx.AsyncClient, alice):
    response = await client.get(ME, headers=alice.headers)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    user = response.json()
    assert (user["id"], user["email"]) == (alice.id, alice.email)
    assert "hashed_password" not in user
    assert "password" not in response.text


async def test_accepts_the_scheme_name_in_any_case(client: httpx.AsyncClient, alice):
    token = alice.headers["Authorization"].split(" ", 1)[1]

    response = await client.get(ME, headers={"Authorization": f"bEaReR {token}"})

    assert response.status_code == 200


async def test_returns_401_with_plain_bearer_challenge_without_credentials(
    client: httpx.AsyncClient,
):
    response = await client.get(ME)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"])
async def test_returns_401_with_plain_bearer_challenge_for_a_malformed_header(
    client: httpx.AsyncClient, header: str
):
    response = await client.get(ME, headers={"Authorization": header})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_returns_401_invalid_token_for_a_garbage_token(client: httpx.AsyncClient):
    response = await client.get(ME, headers={"Authorization": "Bearer not.a.jwt"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["content-type"] == "application/problem+json"


async def test_returns_401_invalid_token_for_an_expired_token(
    client: httpx.AsyncClient, container: Container, alice
):
    long_ago = datetime.now(UTC) - timedelta(days=1)
    expired = container.tokens().issue_access(uuid.UUID(alice.id), long_ago).token

    response = await client.get(ME, headers={"Authorization": f"Bearer {expired}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_returns_401_invalid_token_for_a_token_of_a_user_that_does_not_exist(
    client: httpx.AsyncClient, container: Container
):
    token = container.tokens().issue_access(uuid.uuid4(), datetime.now(UTC)).token

    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


# Header-safe: visible Latin-1 and spaces, never a control character (which no client sends).
_HEADER_CHARS = st.characters(
    codec="latin-1", categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="\x85\xa0"
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(value=st.one_of(st.text(_HEADER_CHARS), st.text(_HEADER_CHARS).map("Bearer ".__add__)))
async def test_never_answers_an_arbitrary_authorization_header_with_other_than_401(
    client: httpx.AsyncClient, value: str
):
    response = await client.get(ME, headers={"Authorization": value.encode("latin-1")})

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
