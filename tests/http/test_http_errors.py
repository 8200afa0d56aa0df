"""Problem details, the error table, request ids, routing errors and CORS, across the app."""

from __future__ import annotations

import logging
import re
import uuid

import httpx
import pytest
from dependency_injector import providers

from application import errors as app_errors
from entrypoints.container import Container

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS = "/api/v1/items"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def _raising(exc: Exception):
    async def handler(_cmd: object) -> object:
        raise exc

    return handler


def _failing_authentication(exc: Exception):
    def configure(container: Container) -> None:
        container.authenticate.override(providers.Object(_raising(exc)))

    return configure


# --- request ids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health/live"), ("GET", "/nowhere"), ("PUT", ITEMS), ("GET", f"{ITEMS}?limit=0")],
)
async def test_echoes_a_sane_request_id_on_every_response(
    client: httpx.AsyncClient, method: str, path: str
):
    response = await client.request(method, path, headers={"X-Request-ID": "abc.DEF_1-2"})

    assert response.headers.get_list("x-request-id") == ["abc.DEF_1-2"]


@pytest.mark.parametrize("sent", ["x" * 129, "has space", "semi;colon", "ünïcode", ""])
async def test_replaces_an_unsafe_request_id_with_a_generated_one(
    client: httpx.AsyncClient, sent: str
):
    response = await client.get("/health/live", headers={"X-Request-ID": sent.encode("latin-1")})

    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


async def test_generates_a_fresh_request_id_when_none_is_sent(client: httpx.AsyncClient):
    first = await client.get("/nowhere")
    second = await client.get("/nowhere")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])


# --- routing errors ---------------------------------------------------------------------


async def test_answers_an_unknown_path_with_a_404_problem(client: httpx.AsyncClient):
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
    }


async def test_answers_a_trailing_slash_with_404_not_a_redirect(client: httpx.AsyncClient):
    response = await client.get(f"{ITEMS}/", headers={"Authorization": "Bearer x"})

    assert response.status_code == 404
    assert "location" not in response.headers


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", f"{ITEMS}/{uuid.uuid4()}", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("DELETE", ITEMS, {"GET", "HEAD", "POST"}),
    ],
)
async def test_answers_a_wrong_method_with_405_and_allow(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
):
    response = await client.request(method, path)

    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert {m.strip() for m in response.headers["allow"].split(",")} == allowed


# --- validation -------------------------------------------------------------------------


async def test_lists_validation_errors_without_echoing_the_input(
    client: httpx.AsyncClient, new_account
):
    account = await new_account()
    secret_title = "SECRET-" + "t" * 300

    response = await client.post(ITEMS, json={"title": secret_title}, headers=account.headers)

    assert response.status_code == 422
    problem = response.json()
    assert set(problem) == {"type", "title", "status", "detail", "errors"}
    assert problem["errors"] == [
        {
            "loc": ["body", "title"],
            "msg": "String should have at most 255 characters",
            "type": "string_too_long",
        }
    ]
    assert "SECRET" not in response.text


# --- unexpected errors ------------------------------------------------------------------


async def test_answers_an_unexpected_error_with_a_generic_500_and_logs_it(
    own_client, caplog: pytest.LogCaptureFixture
):
    leak = RuntimeError("SELECT hashed_password FROM users -- secret=hunter2")
    headers = {"Authorization": "Bearer x", "X-Request-ID": "req-500"}

    with caplog.at_level(logging.ERROR, logger="entrypoints.http.errors"):
        async with own_client(configure=_failing_authentication(leak)) as client:
            response = await client.get("/api/v1/users/me", headers=headers)

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500"
    assert set(response.json()) == {"type", "title", "status", "detail"}
    assert "SELECT" not in response.text and "hunter2" not in response.text
    assert any(r.exc_info and r.exc_info[1] is leak for r in caplog.records)


async def test_answers_an_unavailable_dependency_with_503_and_retry_after(own_client):
    down = app_errors.DependencyUnavailable("db at 10.1.2.3:5432 refused: password=hunter2")

    async with own_client(configure=_failing_authentication(down)) as client:
        response = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer x"})

    assert response.status_code == 503
    assert response.headers["retry-after"].isdigit()
    assert "10.1.2.3" not in response.text and "hunter2" not in response.text


# --- CORS -------------------------------------------------------------------------------


async def test_answers_a_preflight_from_an_allowed_origin(client: httpx.AsyncClient):
    headers = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, if-match",
    }

    response = await client.options(f"{ITEMS}/{uuid.uuid4()}", headers=headers)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-request-id" in response.headers


async def test_does_not_allow_another_origin(client: httpx.AsyncClient):
    response = await client.get("/health/live", headers={"Origin": "https://evil.example"})

    assert "access-control-allow-origin" not in response.headers


async def test_a_body_that_is_not_utf8_is_a_422_like_any_malformed_json(client, alice):
    response = await client.post(
        "/api/v1/items",
        content=b"\xff\xfe\x00garbage",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(own_client, alice):
    async with own_client(max_request_body_bytes=2048) as client:
        big = {"title": "t", "description": "d" * 5000}
        declared = await client.post("/api/v1/auth/register", json=big)

        async def chunks():
            for _ in range(10):
                yield b"x" * 1024

        streamed = await client.post(
            "/api/v1/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
        )
        small = await client.post("/api/v1/auth/register", json={"email": "x"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert "x-request-id" in response.headers
    assert small.status_code == 422
