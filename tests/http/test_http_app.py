"""The application object: its lifespan, the uvicorn factory, and request ids in log records."""

from __future__ import annotations

import logging

import pytest
from dependency_injector import providers
from fastapi import FastAPI

from entrypoints.container import Container
from entrypoints.http import asgi
from entrypoints.http.middleware import RequestIdLogFilter
from entrypoints.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


async def test_closes_the_containers_resources_at_shutdown(own_client):
    containers: list[Container] = []

    async with own_client(configure=containers.append) as client:
        assert (await client.get("/health/ready")).status_code == 200
        pool = containers[0].bcrypt_pool()
        assert not pool._shutdown

    assert pool._shutdown


async def test_the_uvicorn_factory_builds_the_app_over_a_fresh_container():
    first, second = asgi.create(), asgi.create()

    assert isinstance(first, FastAPI)
    assert first.title == "Portico"
    paths = {getattr(route, "path", None) for route in first.routes}
    assert {"/docs", "/redoc"} <= paths  # served with the service's own assets
    assert first.state.container is not second.state.container
    assert isinstance(first.state.container.settings(), Settings)


async def test_puts_the_request_id_on_log_records_even_for_an_unexpected_error(
    own_client, caplog: pytest.LogCaptureFixture
):
    async def boom(_cmd: object) -> object:
        raise RuntimeError("boom")

    def configure(container: Container) -> None:
        container.authenticate.override(providers.Object(boom))

    caplog.handler.addFilter(RequestIdLogFilter())
    headers = {"Authorization": "Bearer x", "X-Request-ID": "trace-me"}
    with caplog.at_level(logging.ERROR, logger="entrypoints.http.errors"):
        async with own_client(configure=configure) as client:
            response = await client.get("/api/v1/users/me", headers=headers)

    assert response.status_code == 500
    assert [r.request_id for r in caplog.records] == ["trace-me"]  # type: ignore[attr-defined]
