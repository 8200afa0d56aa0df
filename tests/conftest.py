"""Fixtures shared by every test tier: where the throwaway servers are.

`bash scripts/check` starts a PostgreSQL cluster and a Redis server on free loopback ports and
exports their URLs. Run bare (`uv run pytest`), the tests that need them are skipped, unless
`PORTICO_REQUIRE_SERVERS=1` or `CI=true` says a missing server is a failure.
"""

import os

import pytest


def _servers_required() -> bool:
    return (
        os.environ.get("PORTICO_REQUIRE_SERVERS") == "1"
        or os.environ.get("CI", "").lower() == "true"
    )


def _server_url(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{what} is not configured: set {variable} (bash scripts/check does)"
    if _servers_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """SQLAlchemy URL (postgresql+asyncpg://...) of an empty throwaway PostgreSQL database."""
    return _server_url("PORTICO_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL (redis://...) of a throwaway Redis server that tests may flush."""
    return _server_url("PORTICO_TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def redis_server_binary() -> str:
    """Path of the redis-server executable, for tests that start and stop their own Redis."""
    return _server_url("PORTICO_TEST_REDIS_SERVER", "redis-server")
