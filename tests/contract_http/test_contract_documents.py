"""What the live server's answers and its published schema say about each other: the headers
it sends are declared, every 422 lists its errors, every response is marked, the schema names
its operations and links what an operation creates to reading it.

A rule the service breaks today is marked xfail(strict=True) with the bug as the reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api import TOKEN, grant
from tests.contract_http import schema_facts
from tests.contract_http.live import LiveApi, unique_email

ITEMS, REGISTER = "/api/v1/items", "/api/v1/auth/register"
FASTAPI_DEFAULT_ID = re.compile(r"^[a-z0-9_]+_(get|put|post|patch|delete)$")
MARKS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

Exchange = Callable[[httpx.Client, LiveApi], httpx.Response]


def bug(reason: str) -> pytest.MarkDecorator:
    """The mark of a rule the service breaks today."""
    return pytest.mark.xfail(strict=True, reason=reason)


@pytest.fixture
def client(live_api: LiveApi) -> Iterator[httpx.Client]:
    with live_api.client() as client:
        yield client


def _new_item(client: httpx.Client, api: LiveApi) -> httpx.Response:
    return client.post(ITEMS, json={"title": "Buy milk"}, headers=api.user.headers)


def _read_item(client: httpx.Client, api: LiveApi) -> httpx.Response:
    return client.get(f"{ITEMS}/{_new_item(client, api).json()['id']}", headers=api.user.headers)


def _unchanged_item(client: httpx.Client, api: LiveApi) -> httpx.Response:
    read = _read_item(client, api)
    headers = {**api.user.headers, "If-None-Match": read.headers["ETag"]}
    unchanged = client.get(read.request.url, headers=headers)
    assert unchanged.status_code == 304, unchanged.text
    return unchanged


def _throttled_sign_in(client: httpx.Client, api: LiveApi) -> httpx.Response:
    form = grant(unique_email("throttled"), "wrong password")
    for _ in range(20):
        response = client.post(TOKEN, data=form)
        if response.status_code == 429:
            break
    return response


EXCHANGES = [
    pytest.param("POST", ITEMS, _new_item, id="201-of-a-new-item"),
    pytest.param("GET", f"{ITEMS}/{{item_id}}", _read_item, id="200-of-an-item"),
    pytest.param(
        "GET",
        f"{ITEMS}/{{item_id}}",
        _unchanged_item,
        id="304-of-an-unchanged-item",
    ),
    pytest.param(
        "GET", ITEMS, lambda client, api: client.get(ITEMS, headers=api.user.headers), id="v1-list"
    ),
    pytest.param(
        "POST",
        REGISTER,
        lambda client, api: client.post(
            REGISTER, json={"email": unique_email("headers"), "password": "correct horse"}
        ),
        id="201-of-a-registration",
    ),
    pytest.param(
        "GET",
        "/api/v1/users/me",
        lambda client, api: client.get("/api/v1/users/me"),
        id="401-without-a-token",
    ),
    pytest.param(
        "POST",
        TOKEN,
        _throttled_sign_in,
        id="429-of-the-token-endpoint",
    ),
]


@pytest.mark.parametrize(("method", "path", "exchange"), EXCHANGES)
def test_declares_the_headers_it_sends(
    client: httpx.Client,
    live_api: LiveApi,
    openapi: dict[str, Any],
    method: str,
    path: str,
    exchange: Exchange,
) -> None:
    response = exchange(client, live_api)

    operation = schema_facts.operation(openapi, method, path)
    missing = schema_facts.undeclared_headers(operation, response.status_code, response.headers)
    assert missing == [], f"{response.status_code}: undeclared {missing}"


SERVICE_RULES = [
    pytest.param(
        "GET",
        "/api/v2/items",
        {"params": {"cursor": "0" * 43}},
        ["query", "cursor"],
        id="cursor-never-handed-out",
    ),
    pytest.param(
        "POST",
        "/api/v1/auth/password-reset",
        {"json": {"token": "x" * 20, "new_password": "nul \x00 inside"}},
        ["body", "new_password"],
        id="nul-in-a-new-password",
    ),
    pytest.param(
        "POST",
        REGISTER,
        {"json": {"email": "a@b", "password": "correct horse"}},
        ["body", "email"],
        id="email-without-a-dot-in-its-domain",
    ),
    pytest.param(
        "POST",
        ITEMS,
        {"json": {"title": "x", "description": "d" * 10_001}},
        ["body", "description"],
        id="description-over-10000-characters",
    ),
]


@pytest.mark.parametrize(("method", "path", "request_", "loc"), SERVICE_RULES)
def test_every_422_lists_its_errors_with_the_field_they_concern(
    client: httpx.Client,
    live_api: LiveApi,
    method: str,
    path: str,
    request_: dict[str, Any],
    loc: list[str],
) -> None:
    response = client.request(method, path, headers=live_api.user.headers, **request_)

    assert response.status_code == 422, response.text
    errors = response.json().get("errors")
    assert errors, response.text
    assert loc in [error["loc"][: len(loc)] for error in errors], errors


def test_the_schema_promises_errors_on_every_422(openapi: dict[str, Any]) -> None:
    problem = openapi["components"]["schemas"]["ValidationProblem"]

    assert "errors" in problem.get("required", [])


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/users/me", "/no/such/path"])
def test_marks_every_response(client: httpx.Client, path: str) -> None:
    response = client.get(path)

    assert {name: response.headers.get(name) for name in MARKS} == MARKS


def test_names_its_operations(openapi: dict[str, Any]) -> None:
    generated = [
        operation["operationId"]
        for methods in openapi["paths"].values()
        for operation in methods.values()
        if FASTAPI_DEFAULT_ID.match(operation.get("operationId", ""))
    ]

    assert generated == []


CREATIONS = [
    ("POST", ITEMS, "/api/v1/items/{item_id}"),
    ("POST", "/api/v2/items", "/api/v2/items/{item_id}"),
    ("POST", REGISTER, "/api/v1/users/{user_id}"),
    (
        "POST",
        "/api/v1/items/{item_id}/attachments",
        "/api/v1/items/{item_id}/attachments/{attachment_id}",
    ),
]


@pytest.mark.parametrize(("method", "path", "target"), CREATIONS)
def test_links_what_an_operation_creates_to_reading_it(
    openapi: dict[str, Any], method: str, path: str, target: str
) -> None:
    reading = schema_facts.operation(openapi, "GET", target).get("operationId")
    pointer = "#/paths/" + target.replace("~", "~0").replace("/", "~1") + "/get"

    links = schema_facts.links(openapi, method, path, 201)

    targets = [link.get("operationId") or link.get("operationRef") for link in links.values()]
    assert reading in targets or pointer in targets, f"201 of {method} {path} links {targets}"
