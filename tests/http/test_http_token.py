"""POST /api/v1/auth/token: the OAuth2 password grant and its RFC 6749 §5.2 errors."""

from __future__ import annotations

import httpx
import pytest

from tests.api import PASSWORD, TOKEN, grant, register

pytestmark = pytest.mark.asyncio(loop_scope="module")


# --- token ------------------------------------------------------------------------------


async def test_issues_a_bearer_token_that_is_never_cached(client: httpx.AsyncClient, email: str):
    await register(client, email=email, password=PASSWORD)

    response = await client.post(TOKEN, data=grant(email.upper()))

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert "refresh_token" in body
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["email"] == email


async def test_accepts_and_ignores_client_id_and_scope(client: httpx.AsyncClient, email: str):
    await register(client, email=email, password=PASSWORD)

    response = await client.post(TOKEN, data=grant(email, client_id="cli", scope="items"))

    assert response.status_code == 200


@pytest.mark.parametrize("missing", ["grant_type", "username", "password"])
async def test_returns_invalid_request_when_a_parameter_is_missing(
    client: httpx.AsyncClient, missing: str
):
    form = grant("someone@example.com")
    del form[missing]

    response = await client.post(TOKEN, data=form)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == "invalid_request"
    assert missing in response.json()["error_description"]


async def test_treats_an_empty_parameter_as_missing(client: httpx.AsyncClient):
    response = await client.post(TOKEN, data=grant("someone@example.com", password=""))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_returns_invalid_request_for_a_repeated_parameter(client: httpx.AsyncClient):
    body = "grant_type=password&username=a%40example.com&password=x&password=y"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    response = await client.post(TOKEN, content=body, headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_returns_invalid_request_not_422_for_a_json_body(client: httpx.AsyncClient):
    response = await client.post(TOKEN, json=grant("someone@example.com"))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("grant_type", ["client_credentials", "authorization_code", "magic"])
async def test_returns_unsupported_grant_type_for_other_grants(
    client: httpx.AsyncClient, grant_type: str
):
    response = await client.post(TOKEN, data={"grant_type": grant_type})

    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


async def test_unknown_user_and_wrong_password_get_byte_identical_answers(
    client: httpx.AsyncClient, email: str
):
    await register(client, email=email, password=PASSWORD)

    wrong_password = await client.post(TOKEN, data=grant(email, "wrong password!"))
    unknown_user = await client.post(TOKEN, data=grant(f"x{email}", "wrong password!"))
    over_long = await client.post(TOKEN, data=grant(email, "a" * 100))
    not_an_email = await client.post(TOKEN, data=grant("nobody", "wrong password!"))

    assert wrong_password.status_code == 400
    assert wrong_password.json() == {
        "error": "invalid_grant",
        "error_description": "incorrect email or password",
    }
    for other in (unknown_user, over_long, not_an_email):
        assert other.status_code == 400
        assert other.content == wrong_password.content
        assert other.headers["cache-control"] == "no-store"


async def test_returns_429_with_retry_after_when_one_account_is_tried_too_often(
    client: httpx.AsyncClient, email: str
):
    statuses = [
        (await client.post(TOKEN, data=grant(email, "wrong password!"))).status_code
        for _ in range(5)
    ]
    response = await client.post(TOKEN, data=grant(email, "wrong password!"))

    assert statuses == [400] * 5
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0


async def test_returns_invalid_request_for_a_malformed_multipart_body(client: httpx.AsyncClient):
    headers = {"Content-Type": "multipart/form-data; boundary=xyz"}

    response = await client.post(TOKEN, content=b"--xyz\r\nnot a part", headers=headers)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
