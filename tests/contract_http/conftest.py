"""The contract checked from outside: one live `portico serve` per module and backend.

SQLite always; PostgreSQL when `PORTICO_TEST_DATABASE_URL` names a server (skipped without it,
unless `PORTICO_REQUIRE_SERVERS=1` makes that a failure). Each server has a database of its
own and the accounts of `LiveApi`; its output is shown when a test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.contract_http.live import LiveApi, running_live_api
from tests.contract_http.sweep import FINDINGS_KEY, known_bugs_met
from tests.integration.servers import logs_shown_on_failure

BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the module's server runs on."""
    return str(request.param)


@pytest.fixture(scope="module")
def live_api(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApi]:
    """The module's server on `backend`, with a user, a peer and a superuser signed in."""
    postgres_url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    directory = tmp_path_factory.mktemp(f"contract-{backend}")
    with running_live_api(backend, directory, postgres_url) as api:
        yield api


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest, live_api: LiveApi) -> Iterator[None]:
    """Shows what the server logged during a test that failed."""
    with logs_shown_on_failure(request, [live_api.server]):
        yield


@pytest.fixture(scope="module")
def openapi(live_api: LiveApi) -> dict[str, Any]:
    """The OpenAPI document the live server publishes."""
    return live_api.openapi()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Lists the known contract bugs the schemathesis tests still met: the work plan."""
    met = known_bugs_met(terminalreporter.config.stash.get(FINDINGS_KEY, []))
    if met:
        terminalreporter.section("known contract bugs schemathesis still meets")
        for paragraph in met:
            terminalreporter.write_line(paragraph)
