"""One request per rule a generated client or a fuzzer depends on, against the live server on
SQLite and PostgreSQL: what the published schema says, and what the server does.

Schemathesis (test_schemathesis.py) finds these by chance; here each is pinned by a request
that meets it every time. A rule the service breaks today is marked xfail(strict=True) with the
bug as the reason: fixing it makes the test pass, and then the mark must go.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest

from tests.contract_http import schema_facts
from tests.contract_http.live import Account, LiveApi, unique_email
from tests.integration.portico_process import SECRET_KEY

ITEMS, ME, REGISTER = "/api/v1/items", "/api/v1/users/me", "/api/v1/auth/register"


def bug(reason: str) -> pytest.MarkDecorator:
    """The mark of a rule the service breaks today."""
    return pytest.mark.xfail(strict=True, reason=reason)


@pytest.fixture
def client(live_api: LiveApi) -> Iterator[httpx.Client]:
    with live_api.client() as client:
        yield client


@pytest.fixture
def owner(live_api: LiveApi) -> Account:
    return live_api.user


@pytest.fixture
def item(client: httpx.Client, owner: Account) -> dict[str, Any]:
    """A new item of the owner's."""
    response = client.post(ITEMS, json={"title": "Buy milk"}, headers=owner.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


AGREEMENT = [
    pytest.param("POST", ITEMS, {"title": "a\x07b"}, {}, {}, id="title-with-a-control-character"),
    pytest.param("POST", ITEMS, {"title": "x" * 256}, {}, {}, id="title-of-256-characters"),
    pytest.param(
        "POST", REGISTER, {"email": "{email}", "password": "p" * 72}, {}, {}, id="72-bytes"
    ),
    pytest.param("GET", "/api/v2/items", None, {}, {"cursor": "!!"}, id="malformed-cursor"),
    pytest.param("GET", "/api/v2/items", None, {}, {"limit": "0"}, id="limit-of-0"),
    pytest.param("PATCH", f"{ITEMS}/{{item_id}}", {}, {"If-Match": ""}, {}, id="empty-if-match"),
    pytest.param(
        "PATCH", f"{ITEMS}/{{item_id}}", {"title": None}, {}, {}, id="title-cleared-with-null"
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "query"), AGREEMENT)
def test_schema_and_server_agree_on_what_is_valid(
    client: httpx.Client,
    live_api: LiveApi,
    owner: Account,
    item: dict[str, Any],
    openapi: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    query: dict[str, str],
) -> None:
    if body is not None and body.get("email") == "{email}":
        body = {**body, "email": unique_email("agree")}
    parameters = {**headers, **query}
    allowed = schema_facts.allows(openapi, method, path, body=body, parameters=parameters)
    url = path.replace("{item_id}", str(item["id"]))
    caller = live_api.new_account("agree") if path.startswith(ME) else owner  # may change it
    response = client.request(
        method, url, json=body, params=query, headers={**caller.headers, **headers}
    )

    accepted = response.status_code < 400
    assert allowed == accepted, f"schema allows: {allowed}; {shown(response)}"
    assert accepted or response.status_code == 422, shown(response)


def test_declares_the_413_it_answers_to_a_body_over_the_limit(
    client: httpx.Client, owner: Account, openapi: dict[str, Any]
) -> None:
    body = b'{"title": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    headers = {**owner.headers, "Content-Type": "application/json"}
    response = client.post(ITEMS, content=body, headers=headers)

    assert response.status_code == 413, shown(response)
    assert is_problem(response, 413), shown(response)
    assert schema_facts.declared_response(schema_facts.operation(openapi, "POST", ITEMS), 413)


def test_answers_415_to_json_sent_as_text_plain(client: httpx.Client, owner: Account) -> None:
    headers = {**owner.headers, "Content-Type": "text/plain"}
    response = client.post(ITEMS, content=b'{"title": "Buy milk"}', headers=headers)

    assert response.status_code == 415, shown(response)
    assert is_problem(response, 415), shown(response)


def test_declares_the_415_it_answers_to_a_body_that_is_not_json(openapi: dict[str, Any]) -> None:
    for method, path in (("POST", ITEMS), ("PATCH", f"{ITEMS}/{{item_id}}"), ("POST", REGISTER)):
        found = schema_facts.operation(openapi, method, path)
        assert schema_facts.declared_response(found, 415), f"{method} {path}"


def test_refuses_to_delete_an_item_at_a_stale_if_match(
    client: httpx.Client, owner: Account, item: dict[str, Any]
) -> None:
    url = f"{ITEMS}/{item['id']}"
    client.patch(url, json={"title": "Buy oat milk"}, headers=owner.headers)

    stale = client.delete(url, headers={**owner.headers, "If-Match": f'"{item["id"]}.1"'})

    assert stale.status_code == 412, shown(stale)
    assert client.get(url, headers=owner.headers).status_code == 200


def test_updates_when_one_tag_of_an_if_match_list_matches(
    client: httpx.Client, owner: Account, item: dict[str, Any]
) -> None:
    tags = f'"{item["id"]}.7", "{item["id"]}.1"'
    response = client.patch(
        f"{ITEMS}/{item['id']}", json={"title": "Tea"}, headers={**owner.headers, "If-Match": tags}
    )

    assert response.status_code == 200, shown(response)
    assert response.json()["version"] == 2


def test_refuses_an_access_token_issued_in_the_future(client: httpx.Client, owner: Account) -> None:
    claims = jwt.decode(owner.access_token, options={"verify_signature": False})
    claims["iat"] = time.time() + 3600
    token = jwt.encode(claims, SECRET_KEY, algorithm="HS256", headers={"typ": "at+jwt"})

    response = client.get(ME, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 401, shown(response)
    assert 'error="invalid_token"' in response.headers.get("WWW-Authenticate", "")


def test_exports_the_owners_items_as_ndjson(
    client: httpx.Client, owner: Account, item: dict[str, Any]
) -> None:
    response = client.get(f"{ITEMS}/export", headers=owner.headers)

    assert response.status_code == 200, shown(response)
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    assert item["id"] in response.text


def test_answers_405_with_allow_to_other_methods_on_the_export(
    client: httpx.Client, owner: Account
) -> None:
    response = client.patch(f"{ITEMS}/export", json={}, headers=owner.headers)

    assert response.status_code == 405, shown(response)
    assert response.headers.get("Allow") == "GET, HEAD", shown(response)


def shown(response: httpx.Response) -> str:
    """The exchange in one line, for assertion messages."""
    request = response.request
    return (
        f"{request.method} {request.url.raw_path.decode()} -> {response.status_code} "
        f"{dict(response.headers)} {response.text[:300]}"
    )


def is_problem(response: httpx.Response, status: int) -> bool:
    """Whether the response is an RFC 9457 problem document with this status."""
    content_type = response.headers.get("Content-Type", "").split(";")[0]
    if content_type != "application/problem+json":
        return False
    body = response.json()
    return all(field in body for field in ("type", "title", "detail")) and body["status"] == status
