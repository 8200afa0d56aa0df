"""An off-the-shelf OAuth2 client (authlib's httpx client) works with the API unchanged: the
password grant, the refresh grant with rotation, bearer use, and RFC 6749 §5.2 errors."""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from authlib.integrations.base_client import OAuthError
from starlette.types import ASGIApp

from tests.http.conftest import PASSWORD

with warnings.catch_warnings():  # authlib nudges towards httpx2; httpx is what we ship
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN_URL = "http://test/api/v1/auth/token"
ME = "/api/v1/users/me"


@pytest_asyncio.fixture(loop_scope="module")
async def oauth(app: ASGIApp) -> AsyncIterator[AsyncOAuth2Client]:
    """A public client (no secret) over the module's app, as a third-party script would use."""
    session = AsyncOAuth2Client(
        client_id="portico-script",
        token_endpoint_auth_method="none",
        token_endpoint=TOKEN_URL,
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
    )
    async with session:
        yield session


async def test_signs_in_with_the_password_grant_and_calls_the_api(oauth: AsyncOAuth2Client, alice):
    token = await oauth.fetch_token(TOKEN_URL, username=alice.email, password=PASSWORD)

    assert token["token_type"] == "bearer"
    assert token["expires_at"] > time.time()
    me = await oauth.get(ME)
    assert me.status_code == 200
    assert me.json()["id"] == alice.id


async def test_refreshes_with_the_refresh_grant_and_rotates_the_refresh_token(
    oauth: AsyncOAuth2Client, alice
):
    first = dict(await oauth.fetch_token(TOKEN_URL, username=alice.email, password=PASSWORD))

    second = await oauth.refresh_token(TOKEN_URL)

    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await oauth.get(ME)).status_code == 200
    with pytest.raises(OAuthError) as reuse:
        await oauth.refresh_token(TOKEN_URL, refresh_token=first["refresh_token"])
    assert reuse.value.error == "invalid_grant"


async def test_refreshes_an_expired_access_token_by_itself(oauth: AsyncOAuth2Client, alice):
    updates: list[dict[str, Any]] = []

    async def update_token(token: dict[str, Any], refresh_token: str | None = None) -> None:
        updates.append(token)

    oauth.update_token = update_token
    token = dict(await oauth.fetch_token(TOKEN_URL, username=alice.email, password=PASSWORD))
    oauth.token = {**token, "expires_at": int(time.time()) - 10}

    response = await oauth.get(ME)

    assert response.status_code == 200
    assert len(updates) == 1
    assert updates[0]["refresh_token"] != token["refresh_token"]


async def test_reports_a_wrong_password_as_invalid_grant(oauth: AsyncOAuth2Client, alice):
    with pytest.raises(OAuthError) as refused:
        await oauth.fetch_token(TOKEN_URL, username=alice.email, password="wrong password!")

    assert refused.value.error == "invalid_grant"
