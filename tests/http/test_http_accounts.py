"""The caller's own account: profile changes, password change, deletion, and password
recovery and reset by mail."""

from __future__ import annotations

import logging
import uuid
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
    unique_email,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ME = "/api/v1/users/me"
TOKEN = "/api/v1/auth/token"
RECOVERY = "/api/v1/auth/password-recovery"
RESET = "/api/v1/auth/password-reset"
NEW_PASSWORD = "a brand new passphrase"


def grant(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": password}


async def reset_token(client: httpx.AsyncClient, mailbox: RecordingEmailSender, email: str) -> str:
    response = await client.post(RECOVERY, json={"email": email})
    assert response.status_code == 202
    return reset_token_in((await mailbox.received(email))[-1])


# --- PATCH /me --------------------------------------------------------------------------------


async def test_changes_the_callers_name_and_email(client: httpx.AsyncClient, new_account):
    account = await new_account()
    new_email = unique_email("renamed")

    response = await client.patch(
        ME, json={"full_name": "Ada L.", "email": new_email.upper()}, headers=account.headers
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    user = response.json()
    assert (user["id"], user["email"], user["full_name"]) == (account.id, new_email, "Ada L.")
    assert (await client.get(ME, headers=account.headers)).json() == user
    assert (await client.post(TOKEN, data=grant(new_email))).status_code == 200
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 400


async def test_leaves_alone_what_a_profile_change_does_not_mention(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()
    await client.patch(ME, json={"full_name": "Ada"}, headers=account.headers)

    response = await client.patch(ME, json={}, headers=account.headers)

    assert response.status_code == 200
    assert (response.json()["email"], response.json()["full_name"]) == (account.email, "Ada")


async def test_returns_409_when_the_new_email_is_taken_in_any_case(
    client: httpx.AsyncClient, alice, bob
):
    response = await client.patch(ME, json={"email": bob.email.upper()}, headers=alice.headers)

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(ME, headers=alice.headers)).json()["email"] == alice.email


async def test_accepts_the_callers_own_email_in_another_case(client: httpx.AsyncClient, alice):
    response = await client.patch(ME, json={"email": alice.email.upper()}, headers=alice.headers)

    assert response.status_code == 200
    assert response.json()["email"] == alice.email


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email"},
        {"email": None},
        {"full_name": None},
        {"full_name": "x" * 256},
        {"email": 42},
    ],
    ids=["bad-email", "null-email", "null-name", "long-name", "number"],
)
async def test_returns_422_for_an_invalid_profile_change(
    client: httpx.AsyncClient, alice, body: dict[str, object]
):
    before = (await client.get(ME, headers=alice.headers)).json()

    response = await client.patch(ME, json=body, headers=alice.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(ME, headers=alice.headers)).json() == before


async def test_returns_401_for_a_profile_change_without_a_token(client: httpx.AsyncClient):
    response = await client.patch(ME, json={"full_name": "x"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


# --- POST /me/password ------------------------------------------------------------------------


async def test_changes_the_password(client: httpx.AsyncClient, new_account):
    account = await new_account()

    response = await client.post(
        f"{ME}/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 400
    assert (await client.post(TOKEN, data=grant(account.email, NEW_PASSWORD))).status_code == 200


async def test_returns_400_and_keeps_the_password_when_the_current_one_is_wrong(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()

    response = await client.post(
        f"{ME}/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=account.headers,
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith(":wrong-password")
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"current_password": PASSWORD, "new_password": "Zq9!x"},
        {"current_password": PASSWORD, "new_password": "é" * 37},
        {"current_password": PASSWORD, "new_password": "a" * 73},
        {"current_password": PASSWORD},
        {"new_password": NEW_PASSWORD},
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@example.com"},
    ],
    ids=["short", "74-bytes", "73-chars", "no-new", "no-current", "unknown-field"],
)
async def test_returns_422_for_an_invalid_password_change_and_keeps_the_password(
    client: httpx.AsyncClient, new_account, body: dict[str, str]
):
    account = await new_account()

    response = await client.post(f"{ME}/password", json=body, headers=account.headers)

    assert response.status_code == 422
    assert "new_password" not in body or body["new_password"] not in response.text
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 200


# --- DELETE /me -------------------------------------------------------------------------------


async def test_deletes_the_callers_account_with_its_items(
    client: httpx.AsyncClient, new_account, make_item, admin
):
    account = await new_account()
    item = await make_item(account)

    response = await client.delete(ME, headers=account.headers)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"/api/v1/items/{item['id']}", headers=admin.headers)).status_code == (
        404
    )
    assert (await client.get(f"/api/v1/users/{account.id}", headers=admin.headers)).status_code == (
        404
    )
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 400
    again = await client.post(
        "/api/v1/auth/register", json={"email": account.email, "password": PASSWORD}
    )
    assert again.status_code == 201


async def test_returns_401_for_a_deletion_without_a_token(client: httpx.AsyncClient):
    assert (await client.delete(ME)).status_code == 401


# --- password recovery ------------------------------------------------------------------------


async def test_answers_recovery_for_known_and_unknown_addresses_identically(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, alice
):
    unknown = unique_email("nobody")
    answers = [
        await client.post(RECOVERY, json={"email": email})
        for email in (alice.email, unknown, "not an address at all")
    ]

    for answer in answers:
        assert answer.status_code == 202
        assert answer.content == b""
        assert {k: v for k, v in answer.headers.items() if k != "x-request-id"} == {
            k: v for k, v in answers[0].headers.items() if k != "x-request-id"
        }
    assert len(await mailbox.received(alice.email)) == 1
    assert await mailbox.received(unknown) == []


async def test_mails_a_reset_token_and_link_to_a_known_address_in_any_case(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account
):
    account = await new_account()

    await client.post(RECOVERY, json={"email": f"  {account.email.upper()} "})

    [message] = await mailbox.received(account.email)
    token = reset_token_in(message)
    assert len(token) >= 32
    assert f"?token={token}" in message.body


async def test_mails_nothing_to_a_deactivated_account(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account, admin
):
    account = await new_account()
    await client.patch(
        f"/api/v1/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )

    response = await client.post(RECOVERY, json={"email": account.email})

    assert response.status_code == 202
    assert await mailbox.received(account.email) == []


async def test_still_answers_202_when_the_mail_cannot_be_sent_and_logs_it(
    client: httpx.AsyncClient,
    mailbox: RecordingEmailSender,
    alice,
    caplog: pytest.LogCaptureFixture,
):
    mailbox.failing = True
    try:
        with caplog.at_level(logging.WARNING):
            response = await client.post(RECOVERY, json={"email": alice.email})
            await mailbox.settled()
    finally:
        mailbox.failing = False

    assert response.status_code == 202
    assert any("mail.password-recovery" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "body", [{}, {"email": None}, {"email": "a@example.com", "is_superuser": True}, []]
)
async def test_returns_422_for_a_recovery_body_without_one_email(
    client: httpx.AsyncClient, body: object
):
    response = await client.post(RECOVERY, json=body)

    assert response.status_code == 422


# --- password reset ---------------------------------------------------------------------------


async def test_resets_the_password_with_the_mailed_token_once(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account
):
    account = await new_account()
    token = await reset_token(client, mailbox, account.email)

    response = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})
    again = await client.post(RESET, json={"token": token, "new_password": "yet another one"})

    assert response.status_code == 204
    assert response.content == b""
    assert again.status_code == 400
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["type"].endswith(":invalid-reset-token")
    assert (await client.post(TOKEN, data=grant(account.email, NEW_PASSWORD))).status_code == 200
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 400


@pytest.mark.parametrize("token", ["", "x", uuid.uuid4().hex * 2])
async def test_returns_400_for_an_unknown_reset_token(client: httpx.AsyncClient, token: str):
    response = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert set(response.json()) == {"type", "title", "status", "detail"}


async def test_a_refused_new_password_does_not_use_up_the_reset_token(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account
):
    account = await new_account()
    token = await reset_token(client, mailbox, account.email)

    refused = await client.post(RESET, json={"token": token, "new_password": "short"})
    accepted = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})

    assert refused.status_code == 422
    assert accepted.status_code == 204


async def test_a_reset_leaves_other_users_sessions_alone(
    client: httpx.AsyncClient, mailbox: RecordingEmailSender, new_account, bob
):
    account = await new_account()
    token = await reset_token(client, mailbox, account.email)
    bobs = await grant_tokens(client, bob.email)

    response = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})

    assert response.status_code == 204
    assert (await client.get(ME, headers=bearer(bobs["access_token"]))).status_code == 200


async def test_refuses_a_reset_token_after_it_expires(
    own_client, database_url: str, new_email: str
):
    clock, outbox = FrozenClock(datetime(2026, 3, 1, tzinfo=UTC)), RecordingEmailSender()

    def configure(container: Container) -> None:
        container.clock.override(providers.Object(clock))
        container.email_sender.override(providers.Object(outbox))
        outbox.jobs = container.job_queue()

    async with own_client(
        database_url=database_url, configure=configure, password_reset_ttl_seconds=600
    ) as client:
        await client.post("/api/v1/auth/register", json={"email": new_email, "password": PASSWORD})
        token = await reset_token(client, outbox, new_email)
        clock.advance(600)

        response = await client.post(RESET, json={"token": token, "new_password": NEW_PASSWORD})

        assert response.status_code == 400
        assert (await client.post(TOKEN, data=grant(new_email))).status_code == 200
