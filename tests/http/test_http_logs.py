"""Logs (docs/http-api.md, "Operator interface"): LOG_FORMAT, one access record per request with its
fields, the client as resolved through TRUSTED_PROXIES, and no secret in any record outside
development.

Records are captured as the service writes them: a handler on the root logger with the
formatter and the request-id filter of `portico serve`'s own logging configuration.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from dependency_injector import providers

from application.ports import EmailMessage, EmailSender
from entrypoints.cli import log_formatter
from entrypoints.container import Container
from entrypoints.http.middleware import RequestIdLogFilter
from entrypoints.settings import Settings
from tests.http.conftest import PASSWORD, Account, reset_token_in, unique_email

pytestmark = pytest.mark.asyncio(loop_scope="module")

ITEMS, ME, TOKEN = "/api/v1/items", "/api/v1/users/me", "/api/v1/auth/token"
ACCESS_FIELDS = {"method", "route", "status", "duration_ms", "client"}
EVERY_RECORD = {"timestamp", "level", "logger", "message", "request_id"}
PROXY = ("10.0.0.7", 4321)  # a reverse proxy in TRUSTED_PROXIES
PRODUCTION_SECRET = "a-production-secret-key-of-more-than-32-bytes"


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


class Captured:
    """What a handler on the root logger wrote, one record a line."""

    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every line, parsed: each must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines()]

    def access(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """The access records (of one request, given its id)."""
        return [
            r
            for r in self.records()
            if r["logger"] == "portico.access" and request_id in (None, r["request_id"])
        ]


def _not_the_tests_own_client(record: logging.LogRecord) -> bool:
    """httpx logs each request the test makes, URL and all; the service uses no httpx."""
    return not record.name.startswith(("httpx", "httpcore"))


@contextmanager
def captured(log_format: str = "json", level: int = logging.INFO) -> Iterator[Captured]:
    """Every record at `level` and above, from every logger, as `portico serve` formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(log_formatter(log_format))
    handler.addFilter(RequestIdLogFilter())
    handler.addFilter(_not_the_tests_own_client)
    root, previous = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def logs() -> Iterator[Captured]:
    with captured() as capture:
        yield capture


def only_access_record(logs: Captured, response: httpx.Response) -> dict[str, Any]:
    [record] = logs.access(response.headers["x-request-id"])
    return record


# --- LOG_FORMAT ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "given", "expected"),
    [
        ("development", None, "text"),
        ("test", None, "text"),
        ("production", None, "json"),
        ("production", "text", "text"),
        ("development", "json", "json"),
    ],
)
async def test_log_format_is_json_by_default_in_production_only(
    environment: str, given: str | None, expected: str
):
    values: dict[str, object] = {"environment": environment, "secret_key": PRODUCTION_SECRET}
    if given is not None:
        values["log_format"] = given

    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type,call-arg]

    assert settings.log_format == expected


# --- the access log --------------------------------------------------------------------------


async def test_each_request_is_one_json_access_record_with_its_fields(
    client: httpx.AsyncClient, alice: Account, make_item, logs: Captured
):
    item = await make_item(alice)

    response = await client.get(f"{ITEMS}/{item['id']}", headers=alice.headers)

    record = only_access_record(logs, response)
    assert set(record) == EVERY_RECORD | ACCESS_FIELDS
    assert record["level"] == "INFO" and record["logger"] == "portico.access"
    assert datetime.fromisoformat(record["timestamp"]).utcoffset() == UTC.utcoffset(None)
    fields = {name: record[name] for name in ("method", "route", "status", "client")}
    assert fields == {
        "method": "GET",
        "route": "/api/v1/items/{item_id}",
        "status": 200,
        "client": "127.0.0.1",
    }
    assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
    assert record["message"] == (
        f"GET /api/v1/items/{{item_id}} 200 {record['duration_ms']:.2f}ms 127.0.0.1"
    )


async def test_the_raw_path_and_query_are_never_logged_and_a_path_no_route_has_is_unmatched(
    client: httpx.AsyncClient, alice: Account, logs: Captured
):
    item_id = uuid.uuid4()
    found = await client.get(f"{ITEMS}/{item_id}?note=sekrit-1", headers=alice.headers)
    unmatched = await client.get("/wp-admin/hidden-place?token=sekrit-2")

    assert only_access_record(logs, found)["route"] == "/api/v1/items/{item_id}"
    missed = only_access_record(logs, unmatched)
    assert (missed["route"], missed["status"]) == ("unmatched", 404)
    for leaked in (str(item_id), "sekrit", "wp-admin", "hidden-place"):
        assert leaked not in logs.text


async def test_a_head_request_is_logged_as_head_under_the_get_routes_template(
    client: httpx.AsyncClient, alice: Account, logs: Captured
):
    response = await client.head(ME, headers=alice.headers)

    record = only_access_record(logs, response)
    assert (record["method"], record["route"], record["status"]) == ("HEAD", ME, 200)


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [
        ("GET", "/docs", "/docs"),
        ("HEAD", "/redoc", "/redoc"),
        ("GET", "/openapi.json", "/openapi.json"),
        ("GET", "/docs-assets/swagger-ui/swagger-ui.css", "/docs-assets/{path}"),
        ("HEAD", "/docs-assets/redoc/redoc.standalone.js", "/docs-assets/{path}"),
    ],
)
async def test_the_docs_and_their_assets_are_logged_under_their_templates(
    client: httpx.AsyncClient, logs: Captured, method: str, path: str, template: str
):
    response = await client.request(method, path)

    record = only_access_record(logs, response)
    assert response.status_code == 200
    assert (record["method"], record["route"], record["status"]) == (method, template, 200)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("PUT", "/health/live", 405), ("GET", ME, 401), ("POST", ITEMS, 401)],
)
async def test_refusals_are_logged_with_their_status_under_the_paths_template(
    client: httpx.AsyncClient, logs: Captured, method: str, path: str, status: int
):
    response = await client.request(method, path)

    record = only_access_record(logs, response)
    assert response.status_code == status
    assert (record["method"], record["route"], record["status"]) == (method, path, status)


async def test_an_unexpected_error_is_logged_as_a_500_beside_the_error_with_the_same_id(
    own_client, logs: Captured
):
    async def boom(_cmd: object) -> object:
        raise RuntimeError("boom")

    def configure(container: Container) -> None:
        container.authenticate.override(providers.Object(boom))

    async with own_client(configure=configure) as client:
        response = await client.get(ME, headers={"Authorization": "Bearer x"})

    request_id = response.headers["x-request-id"]
    assert only_access_record(logs, response)["status"] == 500
    [error] = [r for r in logs.records() if r["level"] == "ERROR"]
    assert error["request_id"] == request_id and "RuntimeError: boom" in error["exc_info"]


async def test_the_client_is_the_address_a_trusted_proxy_forwarded_for(own_client, logs: Captured):
    forwarded = {"X-Forwarded-For": "198.51.100.4, 10.0.0.8"}  # the client, then our LB
    async with own_client(peer=PROXY, trusted_proxies=["10.0.0.0/8"]) as client:
        response = await client.get("/health/live", headers=forwarded)

    assert only_access_record(logs, response)["client"] == "198.51.100.4"


async def test_a_forwarded_for_from_an_untrusted_peer_is_ignored(own_client, logs: Captured):
    async with own_client(peer=("203.0.113.9", 1), trusted_proxies=["10.0.0.0/8"]) as client:
        response = await client.get("/health/live", headers={"X-Forwarded-For": "1.2.3.4"})

    assert only_access_record(logs, response)["client"] == "203.0.113.9"


async def test_as_text_the_access_record_is_one_line_with_the_request_id(
    client: httpx.AsyncClient, alice: Account
):
    with captured("text") as logs:
        response = await client.get(ME, headers={**alice.headers, "X-Request-ID": "trace-42"})

    [line] = [line for line in logs.text.splitlines() if " portico.access " in line]
    assert response.status_code == 200
    assert " INFO portico.access [trace-42] GET /api/v1/users/me 200 " in line
    assert line.endswith("ms 127.0.0.1")


# --- no secret in any record -----------------------------------------------------------------


class MailCopy:
    """The app's own mail sender (chosen by the container for the environment), with a copy
    of each message kept for the test: the reset token is read from the copy, never the log."""

    def __init__(self, sender: EmailSender) -> None:
        self.sender, self.sent = sender, list[EmailMessage]()

    async def send(self, message: EmailMessage) -> None:
        self.sent.append(message)
        await self.sender.send(message)

    async def reset_token(self, address: str) -> str:
        for _ in range(500):
            for message in self.sent:
                if message.to == address and "Reset token: " in message.body:
                    return reset_token_in(message)
            await asyncio.sleep(0.01)
        raise AssertionError("no recovery mail")


async def run_every_secret_bearing_flow(client: httpx.AsyncClient, mail: MailCopy) -> list[str]:
    """Register, sign in (a wrong password first), refresh both ways, recover and reset the
    password (and replay the reset token), change it, log out, replay a spent refresh token;
    returns every password and token the flows used."""
    email, first, second, third = unique_email(), PASSWORD, "second horse battery", "third one!"
    wrong, bogus_access = "wrong horse battery", "not-a-jwt.sekrit-access.token"

    async def grant(**form: str) -> dict[str, str]:
        response = await client.post(TOKEN, data=form)
        assert response.status_code == 200, response.text
        return dict(response.json())

    register = {"email": email, "password": first}
    assert (await client.post("/api/v1/auth/register", json=register)).status_code == 201
    assert (await client.post("/api/v1/auth/register", json=register)).status_code == 409
    weak = {"email": unique_email(), "password": "pw-1"}
    assert (await client.post("/api/v1/auth/register", json=weak)).status_code == 422
    denied = {"grant_type": "password", "username": email, "password": wrong}
    assert (await client.post(TOKEN, data=denied)).status_code == 400
    signed_in = await grant(grant_type="password", username=email, password=first)
    rotated = await grant(grant_type="refresh_token", refresh_token=signed_in["refresh_token"])
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert refreshed.status_code == 200
    spent = rotated["refresh_token"]
    bearer = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    assert (await client.get(ME, headers=bearer)).status_code == 200
    assert (
        await client.get(ME, headers={"Authorization": f"Bearer {bogus_access}"})
    ).status_code == 401

    recovery = await client.post("/api/v1/auth/password-recovery", json={"email": email})
    assert recovery.status_code == 202, recovery.text
    reset_token = await mail.reset_token(email)
    reset = {"token": reset_token, "new_password": second}
    assert (await client.post("/api/v1/auth/password-reset", json=reset)).status_code == 204
    assert (await client.post("/api/v1/auth/password-reset", json=reset)).status_code == 400

    again = await grant(grant_type="password", username=email, password=second)
    bearer = {"Authorization": f"Bearer {again['access_token']}"}
    change = {"current_password": second, "new_password": third}
    assert (await client.post(f"{ME}/password", json=change, headers=bearer)).status_code == 204
    last = await grant(grant_type="password", username=email, password=third)
    logout = {"refresh_token": last["refresh_token"]}
    last_bearer = {"Authorization": f"Bearer {last['access_token']}"}
    assert (
        await client.post("/api/v1/auth/logout", json=logout, headers=last_bearer)
    ).status_code == 204
    replayed = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": spent}
    )
    assert replayed.status_code == 400

    tokens = [signed_in, rotated, refreshed.json(), again, last]
    issued = [t[kind] for t in tokens for kind in ("access_token", "refresh_token")]
    return [first, second, third, wrong, weak["password"], bogus_access, reset_token, *issued]


async def test_no_password_token_or_reset_token_is_ever_logged_in_production(own_client):
    copies: list[MailCopy] = []

    def configure(container: Container) -> None:
        copies.append(MailCopy(container.email_sender()))  # the body-less production sender
        container.email_sender.override(providers.Object(copies[0]))

    production = {"environment": "production", "secret_key": PRODUCTION_SECRET}
    with captured("json", logging.INFO) as logs:
        async with own_client(configure=configure, **production) as client:
            secrets = await run_every_secret_bearing_flow(client, copies[0])

    assert len(logs.access()) >= 16  # every request was seen by the capture
    assert any("(body withheld)" in r["message"] for r in logs.records())  # and the mail
    for secret in secrets:
        assert secret not in logs.text, secret
        for part in secret.split("."):  # nor any part of a JWT
            assert len(part) < 8 or part not in logs.text, secret


async def test_in_development_the_logged_mail_shows_its_reset_token_and_nothing_else_does(
    own_client,
):
    copies: list[MailCopy] = []

    def configure(container: Container) -> None:
        copies.append(MailCopy(container.email_sender()))  # logs each body, for developers
        container.email_sender.override(providers.Object(copies[0]))

    with captured("text", logging.INFO) as logs:
        async with own_client(configure=configure, environment="development") as client:
            secrets = await run_every_secret_bearing_flow(client, copies[0])

    reset_token = secrets[6]
    assert f"Reset token: {reset_token}" in logs.text
    logged = [secret for secret in secrets if secret in logs.text]
    assert logged == [reset_token]
