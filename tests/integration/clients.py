"""Talking to the API processes of `servers.py` as a client would: accounts and sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from tests.integration.servers import ApiServer

PASSWORD = "correct horse battery"
EVENT_TIMEOUT_SECONDS = 5.0
RECOVERY_TIMEOUT_SECONDS = 10.0
"""How long a fault test waits for the service to come back by itself."""


@dataclass(frozen=True)
class Account:
    """A signed-in user: who, and the access token to act as them."""

    id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def http_client(
    server: ApiServer, *, timeout: float = 10.0, connections: int = 100
) -> httpx.AsyncClient:
    """An HTTP client for one server (no proxies from the environment)."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=server.url, timeout=timeout, limits=limits, trust_env=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def seconds_until_ready(
    client: httpx.AsyncClient, timeout: float = RECOVERY_TIMEOUT_SECONDS
) -> float:
    """How long until `/health/ready` answers 200; fails the test after `timeout` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = await client.get("/health/ready")
        assert response.status_code in (200, 503), response.text
        if response.status_code == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    pytest.fail(f"{client.base_url} not ready within {timeout} s", pytrace=False)


def unique_email(who: str) -> str:
    return f"{who}-{uuid.uuid4().hex[:10]}@example.com"


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    """The password grant; returns the access token."""
    return (await grant(client, email, password))["access_token"]


async def grant(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    """The password grant; returns the token response."""
    form = {"grant_type": "password", "username": email, "password": password}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    tokens: dict[str, str] = response.json()
    return tokens


async def sign_up(client: httpx.AsyncClient, who: str) -> Account:
    """Register a new user and sign in."""
    email = unique_email(who)
    body = {"email": email, "password": PASSWORD}
    response = await client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 201, response.text
    tokens = await grant(client, email)
    return Account(response.json()["id"], email, tokens["access_token"], tokens["refresh_token"])


class EventSocket:
    """A client of `WS /api/v1/ws` that has been told `ready`."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def next_message(self, timeout: float = EVENT_TIMEOUT_SECONDS) -> dict[str, Any]:
        """The next message; fails the test if none comes within `timeout`."""
        message = await self.message_within(timeout)
        if message is None:
            pytest.fail(f"no WebSocket message within {timeout} s", pytrace=False)
        return message

    async def message_within(self, timeout: float) -> dict[str, Any] | None:
        """The next message if one comes within `timeout`, else None."""
        try:
            raw = await asyncio.wait_for(self.connection.recv(), timeout)
        except TimeoutError:
            return None
        message: dict[str, Any] = json.loads(raw)
        return message

    async def close_code(self, timeout: float = EVENT_TIMEOUT_SECONDS) -> int | None:
        """Read (and drop) messages until the server closes the socket; its close code."""

        async def drain() -> None:
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await self.connection.recv()

        try:
            await asyncio.wait_for(drain(), timeout)
        except TimeoutError:
            pytest.fail(f"the server did not close the WebSocket within {timeout} s", pytrace=False)
        return self.connection.close_code


def connect_events(server: ApiServer, access_token: str, open_timeout: float = 5) -> ws_connect:
    """A WebSocket handshake with `server`, authenticated by header (use `async with`)."""
    return ws_connect(
        server.ws_url,
        additional_headers=bearer(access_token),
        proxy=None,
        open_timeout=open_timeout,
        close_timeout=2,
    )


@contextlib.asynccontextmanager
async def event_socket(server: ApiServer, access_token: str) -> AsyncIterator[EventSocket]:
    """A WebSocket to `server`, authenticated by header, past its `ready` message."""
    async with connect_events(server, access_token) as connection:
        socket_ = EventSocket(connection)
        assert await socket_.next_message() == {"type": "ready"}
        yield socket_
