"""/health/live and /health/ready."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
from dependency_injector import providers

from entrypoints.container import Container
from entrypoints.http.routers import health

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HangingCheck:
    async def check(self) -> None:
        await asyncio.sleep(30)


async def test_live_answers_200_ok(client: httpx.AsyncClient):
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_answers_200_when_the_database_answers(client: httpx.AsyncClient):
    response = await client.get("/health/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert response.headers["cache-control"] == "no-store"


async def test_ready_answers_503_naming_the_database_when_it_is_unreachable(own_client):
    url = f"postgresql+asyncpg://portico@127.0.0.1:{closed_port()}/portico"

    async with own_client(database_url=url, migrate=False) as client:
        ready = await client.get("/health/ready")
        live = await client.get("/health/live")
        register = await client.post(
            "/api/v1/auth/register", json={"email": "a@example.com", "password": "x" * 10}
        )

    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
    assert live.status_code == 200
    assert register.status_code == 503
    assert register.headers["content-type"] == "application/problem+json"
    assert "retry-after" in register.headers
    assert "127.0.0.1" not in register.text


async def test_ready_answers_503_when_the_check_does_not_finish_in_time(
    own_client, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(health, "CHECK_TIMEOUT_SECONDS", 0.05)

    def configure(container: Container) -> None:
        container.database_check.override(providers.Object(HangingCheck()))

    async with own_client(configure=configure) as client:
        response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unavailable"}
