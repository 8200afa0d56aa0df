"""Administering accounts: superusers list, read, change and delete any account; everyone
else gets 403 on those routes and sees only their own account."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.http.conftest import PASSWORD, bearer, grant_tokens

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = "/api/v1/users"
TOKEN = "/api/v1/auth/token"


def grant(email: str) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": PASSWORD}


# --- list -------------------------------------------------------------------------------------


async def test_lists_accounts_oldest_first_with_the_total_for_a_superuser(
    client: httpx.AsyncClient, admin, new_account
):
    made = [await new_account() for _ in range(3)]
    total = int((await client.get(USERS, headers=admin.headers)).headers["x-total-count"])

    response = await client.get(
        USERS, params={"skip": total - 3, "limit": 2}, headers=admin.headers
    )

    assert response.status_code == 200
    assert response.headers["x-total-count"] == str(total)
    assert [user["id"] for user in response.json()] == [made[0].id, made[1].id]
    assert set(response.json()[0]) == {
        "id",
        "email",
        "full_name",
        "is_active",
        "is_superuser",
        "created_at",
    }


async def test_lists_at_most_50_accounts_by_default(client: httpx.AsyncClient, admin, new_account):
    for _ in range(
        51 - int((await client.get(USERS, headers=admin.headers)).headers["x-total-count"])
    ):
        await new_account()

    response = await client.get(USERS, headers=admin.headers)

    assert len(response.json()) == 50


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"skip": -1}, {"limit": "many"}])
async def test_returns_422_for_a_page_out_of_bounds(
    client: httpx.AsyncClient, admin, params: dict[str, object]
):
    response = await client.get(USERS, params=params, headers=admin.headers)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_answers_the_list_with_403_for_a_user_who_is_not_a_superuser(
    client: httpx.AsyncClient, alice
):
    response = await client.get(USERS, headers=alice.headers)

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-total-count" not in response.headers


async def test_has_no_trailing_slash_on_the_collection(client: httpx.AsyncClient, admin):
    response = await client.get(f"{USERS}/", headers=admin.headers)

    assert response.status_code == 404
    assert "location" not in response.headers


# --- read -------------------------------------------------------------------------------------


async def test_reads_any_account_as_a_superuser_and_ones_own_as_anyone(
    client: httpx.AsyncClient, admin, alice
):
    by_admin = await client.get(f"{USERS}/{alice.id}", headers=admin.headers)
    by_self = await client.get(f"{USERS}/{alice.id}", headers=alice.headers)

    assert by_admin.status_code == by_self.status_code == 200
    assert by_admin.json() == by_self.json()
    assert by_self.json()["email"] == alice.email


async def test_answers_another_users_account_exactly_as_a_missing_one(
    client: httpx.AsyncClient, alice, bob
):
    foreign = await client.get(f"{USERS}/{bob.id}", headers=alice.headers)
    missing = await client.get(f"{USERS}/{uuid.uuid4()}", headers=alice.headers)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content


async def test_returns_422_for_an_account_id_that_is_not_a_uuid(client: httpx.AsyncClient, admin):
    response = await client.get(f"{USERS}/not-a-uuid", headers=admin.headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "user_id"]


# --- change -----------------------------------------------------------------------------------


async def test_renames_and_promotes_an_account(client: httpx.AsyncClient, admin, new_account):
    account = await new_account()

    response = await client.patch(
        f"{USERS}/{account.id}",
        json={"full_name": "Promoted", "is_superuser": True},
        headers=admin.headers,
    )

    assert response.status_code == 200
    user = response.json()
    assert (user["full_name"], user["is_superuser"], user["is_active"]) == ("Promoted", True, True)
    fresh = bearer(await _access(client, account.email))
    assert (await client.get(USERS, headers=fresh)).status_code == 200


async def test_a_role_change_applies_at_once_to_tokens_already_issued(
    client: httpx.AsyncClient, admin, new_account
):
    account = await new_account()
    assert (await client.get(USERS, headers=account.headers)).status_code == 403

    await client.patch(f"{USERS}/{account.id}", json={"is_superuser": True}, headers=admin.headers)
    promoted = await client.get(USERS, headers=account.headers)
    await client.patch(f"{USERS}/{account.id}", json={"is_superuser": False}, headers=admin.headers)
    demoted = await client.get(USERS, headers=account.headers)

    assert (promoted.status_code, demoted.status_code) == (200, 403)


async def test_leaves_alone_what_an_administrative_change_does_not_mention(
    client: httpx.AsyncClient, admin, new_account
):
    account = await new_account()
    await client.patch(f"{USERS}/{account.id}", json={"full_name": "Kept"}, headers=admin.headers)

    response = await client.patch(f"{USERS}/{account.id}", json={}, headers=admin.headers)

    assert response.status_code == 200
    assert (response.json()["full_name"], response.json()["is_superuser"]) == ("Kept", False)


async def test_deactivation_ends_every_session_and_refuses_sign_in_until_reactivated(
    client: httpx.AsyncClient, admin, new_account
):
    account = await new_account()
    session = await grant_tokens(client, account.email)
    wrong_password = await client.post(
        TOKEN, data={**grant(account.email), "password": "wrong password!"}
    )

    deactivated = await client.patch(
        f"{USERS}/{account.id}", json={"is_active": False}, headers=admin.headers
    )

    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    assert (await client.get(f"{USERS}/me", headers=account.headers)).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    refused = await client.post(TOKEN, data=grant(account.email))
    assert refused.status_code == 400
    assert refused.content == wrong_password.content

    reactivated = await client.patch(
        f"{USERS}/{account.id}", json={"is_active": True}, headers=admin.headers
    )

    assert reactivated.json()["is_active"] is True
    assert (await client.post(TOKEN, data=grant(account.email))).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"is_active": None},
        {"is_superuser": None},
        {"full_name": None},
        {"is_active": "no"},
        {"is_superuser": 1},
        {"email": "new@example.com"},
        {"hashed_password": "$2b$04$x"},
        {"id": str(uuid.uuid4())},
    ],
    ids=["null-active", "null-super", "null-name", "str-bool", "int-bool", "email", "hash", "id"],
)
async def test_returns_422_for_an_invalid_administrative_change_and_changes_nothing(
    client: httpx.AsyncClient, admin, new_account, body: dict[str, object]
):
    account = await new_account()
    before = (await client.get(f"{USERS}/{account.id}", headers=admin.headers)).json()

    response = await client.patch(f"{USERS}/{account.id}", json=body, headers=admin.headers)

    assert response.status_code == 422
    assert (await client.get(f"{USERS}/{account.id}", headers=admin.headers)).json() == before


async def test_returns_404_when_changing_a_missing_account(client: httpx.AsyncClient, admin):
    response = await client.patch(
        f"{USERS}/{uuid.uuid4()}", json={"is_active": False}, headers=admin.headers
    )

    assert response.status_code == 404


async def test_returns_403_when_a_user_who_is_not_a_superuser_changes_any_account(
    client: httpx.AsyncClient, alice, bob
):
    for target in (alice.id, bob.id, str(uuid.uuid4())):
        response = await client.patch(
            f"{USERS}/{target}", json={"is_superuser": True}, headers=alice.headers
        )
        assert response.status_code == 403
    me = await client.get(f"{USERS}/me", headers=alice.headers)
    assert me.json()["is_superuser"] is False


# --- delete -----------------------------------------------------------------------------------


async def test_deletes_an_account_and_its_sessions(client: httpx.AsyncClient, admin, new_account):
    account = await new_account()

    response = await client.delete(f"{USERS}/{account.id}", headers=admin.headers)

    assert response.status_code == 204
    assert (await client.get(f"{USERS}/{account.id}", headers=admin.headers)).status_code == 404
    assert (await client.get(f"{USERS}/me", headers=account.headers)).status_code == 401
    assert (await client.delete(f"{USERS}/{account.id}", headers=admin.headers)).status_code == 404


async def test_returns_403_when_a_user_who_is_not_a_superuser_deletes_any_account(
    client: httpx.AsyncClient, alice, bob
):
    for target in (alice.id, bob.id, str(uuid.uuid4())):
        response = await client.delete(f"{USERS}/{target}", headers=alice.headers)
        assert response.status_code == 403
    assert (await client.get(f"{USERS}/me", headers=bob.headers)).status_code == 200


async def _access(client: httpx.AsyncClient, email: str) -> str:
    return (await grant_tokens(client, email))["access_token"]
