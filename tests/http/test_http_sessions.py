"""Sessions: refresh rotation and reuse detection, absolute lifetime, logout, and what a
password change or reset revokes (RFC 9700 §4.14, the auth section of docs/http-api.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from dependency_injector import providers

from adapters.memory.clock import FrozenClock
from entrypoints.container import Container
from tests.http.conftest import (
    PASSWORD,
    RecordingEmailSender,
    bearer,
    grant_tokens,
    reset_token_in,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ME = "/api/v1/users/me"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
NEW_PASSWORD = "a brand new passphrase"
INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "refresh token is invalid, expired or revoked",
}


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def refresh_grant(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await client.post(TOKEN, data=form)


async def works(client: httpx.AsyncClient, tokens: dict[str, str]) -> tuple[bool, bool]:
    """Whether the access token still authenticates, and the refresh token still refreshes
    (which uses it up: only call this as the last check of a session)."""
    me = await client.get(ME, headers=bearer(tokens["access_token"]))
    refreshed = await refresh(client, tokens["refresh_token"])
    return me.status_code == 200, refreshed.status_code == 200


# --- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("exchange", [refresh, refresh_grant], ids=["refresh", "token"])
async def test_rotates_the_refresh_token_on_every_use(
    client: httpx.AsyncClient, alice, exchange: Callable
):
    first = await grant_tokens(client, alice.email)

    response = await exchange(client, first["refresh_token"])

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    assert body["refresh_token"] != first["refresh_token"]
    me = await client.get(ME, headers=bearer(body["access_token"]))
    assert me.json()["id"] == alice.id
    assert (await exchange(client, body["refresh_token"])).status_code == 200


@pytest.mark.parametrize("exchange", [refresh, refresh_grant], ids=["refresh", "token"])
async def test_refuses_a_used_refresh_token_and_revokes_its_whole_family(
    client: httpx.AsyncClient, alice, exchange: Callable
):
    other_session = await grant_tokens(client, alice.email)
    first = await grant_tokens(client, alice.email)
    successor = (await exchange(client, first["refresh_token"])).json()

    reuse = await exchange(client, first["refresh_token"])

    assert reuse.status_code == 400
    assert reuse.json() == INVALID_GRANT
    assert reuse.headers["cache-control"] == "no-store"
    assert (await exchange(client, successor["refresh_token"])).status_code == 400
    assert (await exchange(client, other_session["refresh_token"])).status_code == 200


@pytest.mark.parametrize("garbage", ["", "x", "a" * 43, "é" * 200])
async def test_answers_any_unknown_refresh_token_with_invalid_grant(
    client: httpx.AsyncClient, garbage: str
):
    response = await refresh(client, garbage)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == INVALID_GRANT


async def test_returns_invalid_request_when_the_refresh_grant_has_no_refresh_token(
    client: httpx.AsyncClient,
):
    response = await client.post(TOKEN, data={"grant_type": "refresh_token"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "refresh_token" in response.json()["error_description"]


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": None}, {"refresh_token": "x", "scope": "all"}, []]
)
async def test_returns_422_for_a_refresh_body_that_is_not_one_refresh_token(
    client: httpx.AsyncClient, body: object
):
    response = await client.post(REFRESH, json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_two_concurrent_refreshes_with_one_token_never_both_leave_a_live_successor(
    client: httpx.AsyncClient, alice
):
    for _ in range(5):
        tokens = await grant_tokens(client, alice.email)

        answers = await asyncio.gather(
            refresh(client, tokens["refresh_token"]), refresh(client, tokens["refresh_token"])
        )

        assert sorted(r.status_code for r in answers) in ([200, 400], [400, 400])
        successors = [r.json()["refresh_token"] for r in answers if r.status_code == 200]
        live = [(await refresh(client, s)).status_code for s in successors]
        assert live.count(200) <= 1


# --- absolute lifetime ------------------------------------------------------------------------


async def test_a_refresh_family_ends_at_its_absolute_lifetime_however_often_it_rotates(
    own_client, database_url: str, new_email: str
):
    clock = FrozenClock(datetime(2026, 3, 1, tzinfo=UTC))

    def frozen(container: Container) -> None:
        container.clock.override(providers.Object(clock))

    async with own_client(
        database_url=database_url, configure=frozen, refresh_token_ttl_seconds=3600
    ) as client:
        await client.post("/api/v1/auth/register", json={"email": new_email, "password": PASSWORD})
        tokens = await grant_tokens(client, new_email)
        for _ in range(3):
            clock.advance(1190)
            response = await refresh(client, tokens["refresh_token"])
            assert response.status_code == 200, response.text
            tokens = response.json()
        clock.advance(31)  # 3601 s after sign-in

        late = await refresh(client, tokens["refresh_token"])

        assert late.status_code == 400
        assert late.json() == INVALID_GRANT
        assert (await grant_tokens(client, new_email))["refresh_token"]


async def test_an_access_token_stops_working_when_it_expires(
    own_client, database_url: str, new_email: str
):
    clock = FrozenClock(datetime(2026, 3, 1, tzinfo=UTC))

    def frozen(container: Container) -> None:
        container.clock.override(providers.Object(clock))

    async with own_client(
        database_url=database_url, configure=frozen, access_token_ttl_seconds=60
    ) as client:
        await client.post("/api/v1/auth/register", json={"email": new_email, "password": PASSWORD})
        access = bearer((await grant_tokens(client, new_email))["access_token"])
        clock.advance(59)
        assert (await client.get(ME, headers=access)).status_code == 200
        clock.advance(1)

        response = await client.get(ME, headers=access)

        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


# --- logout -----------------------------------------------------------------------------------


async def test_logout_ends_the_access_token_and_the_refresh_family_at_once(
    client: httpx.AsyncClient, alice
):
    session = await grant_tokens(client, alice.email)
    rotated = (await refresh(client, session["refresh_token"])).json()

    response = await client.post(LOGOUT, headers=bearer(rotated["access_token"]))

    assert response.status_code == 204
    assert response.content == b""
    assert await works(client, rotated) == (False, False)


async def test_logout_leaves_the_users_other_sessions_working(client: httpx.AsyncClient, alice):
    leaving, staying = (
        await grant_tokens(client, alice.email),
        await grant_tokens(client, alice.email),
    )

    await client.post(LOGOUT, headers=bearer(leaving["access_token"]))

    assert await works(client, staying) == (True, True)


async def test_logout_also_ends_the_family_of_the_callers_refresh_token_it_is_sent(
    client: httpx.AsyncClient, alice
):
    leaving, other = (
        await grant_tokens(client, alice.email),
        await grant_tokens(client, alice.email),
    )

    await client.post(
        LOGOUT,
        json={"refresh_token": other["refresh_token"]},
        headers=bearer(leaving["access_token"]),
    )

    assert (await refresh(client, other["refresh_token"])).status_code == 400


async def test_logout_ignores_a_refresh_token_of_another_user(
    client: httpx.AsyncClient, alice, bob
):
    bobs = await grant_tokens(client, bob.email)
    alices = await grant_tokens(client, alice.email)

    response = await client.post(
        LOGOUT,
        json={"refresh_token": bobs["refresh_token"]},
        headers=bearer(alices["access_token"]),
    )

    assert response.status_code == 204
    assert await works(client, bobs) == (True, True)


@pytest.mark.parametrize("body", [None, {}, {"refresh_token": None}], ids=["empty", "{}", "null"])
async def test_logout_accepts_a_body_without_a_refresh_token(
    client: httpx.AsyncClient, alice, body: object
):
    tokens = await grant_tokens(client, alice.email)

    response = await client.post(LOGOUT, json=body, headers=bearer(tokens["access_token"]))

    assert response.status_code == 204
    assert await works(client, tokens) == (False, False)


async def test_logout_answers_401_without_a_token(client: httpx.AsyncClient):
    response = await client.post(LOGOUT)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_logout_refuses_an_unknown_field_and_logs_nothing_out(
    client: httpx.AsyncClient, alice
):
    tokens = await grant_tokens(client, alice.email)

    response = await client.post(
        LOGOUT, json={"everywhere": True}, headers=bearer(tokens["access_token"])
    )

    assert response.status_code == 422
    assert await works(client, tokens) == (True, True)


# --- password change: every other session ends, the caller's goes on -----------------------


async def test_a_password_change_revokes_every_other_session_and_keeps_the_callers(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()
    caller, other = (
        await grant_tokens(client, account.email),
        await grant_tokens(client, account.email),
    )
    rotated_other = (await refresh(client, other["refresh_token"])).json()

    response = await client.post(
        f"{ME}/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(caller["access_token"]),
    )

    assert response.status_code == 204
    assert await works(client, rotated_other) == (False, False)
    assert (await client.get(ME, headers=account.headers)).status_code == 401
    assert await works(client, caller) == (True, True)


async def test_a_refused_password_change_revokes_nothing(client: httpx.AsyncClient, new_account):
    account = await new_account()
    caller, other = (
        await grant_tokens(client, account.email),
        await grant_tokens(client, account.email),
    )

    response = await client.post(
        f"{ME}/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=bearer(caller["access_token"]),
    )

    assert response.status_code == 400
    assert await works(client, other) == (True, True)
    assert await works(client, caller) == (True, True)


# --- password reset: every session ends ------------------------------------------------------


async def test_a_password_reset_revokes_every_session_of_the_user(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account
):
    account = await new_account()
    first, second = (
        await grant_tokens(client, account.email),
        await grant_tokens(client, account.email),
    )
    await client.post("/api/v1/auth/password-recovery", json={"email": account.email})
    token = reset_token_in((await mailbox.received(account.email))[-1])

    response = await client.post(
        "/api/v1/auth/password-reset", json={"token": token, "new_password": NEW_PASSWORD}
    )

    assert response.status_code == 204
    assert await works(client, first) == (False, False)
    assert await works(client, second) == (False, False)
    assert (await client.get(ME, headers=account.headers)).status_code == 401
    assert await works(client, await grant_tokens(client, account.email, NEW_PASSWORD)) == (
        True,
        True,
    )
