"""A live `portico serve` on a database of its own, and the accounts the contract tests use.

The server is started as an operator starts it (`python -m entrypoints.cli serve`, configured
only through its environment) and serves real HTTP on a loopback port, so whatever a client
meets — status codes, headers, bodies, the server's own limits — is what these tests see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from dependency_injector import providers

from adapters.sqlalchemy.migrate import upgrade
from application.use_cases.accounts.create_superuser import CreateSuperuser
from entrypoints.container import Container, close_resources
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.api import PASSWORD, REGISTER, TOKEN, grant
from tests.contract.databases import run_blocking, sqlite_url
from tests.integration.portico_process import PorticoProcess, portico_environment
from tests.integration.servers import migrated_database

GENEROUS = "1000000"  # every request comes from 127.0.0.1: no per-address limit may bite


def schema_document() -> dict[str, Any]:
    """The OpenAPI document the app publishes, built in process (no server, no database): the
    same document `GET /openapi.json` answers, available when the tests are collected."""
    container = Container()
    settings = Settings(environment="test", database_url="sqlite+aiosqlite:///:memory:")
    container.settings.override(providers.Object(settings))
    return dict(create_app(container).openapi())


@dataclass(frozen=True)
class Account:
    """A registered, signed-in user."""

    id: str
    email: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        """The headers that authenticate as this user."""
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> Account:
    """The account of `email`, signed in with the password grant."""
    tokens = client.post(TOKEN, data=grant(email, password))
    assert tokens.status_code == 200, tokens.text
    access, refresh = tokens.json()["access_token"], tokens.json()["refresh_token"]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {access}"})
    assert me.status_code == 200, me.text
    return Account(me.json()["id"], email, access, refresh)


def register(client: httpx.Client, email: str, password: str = PASSWORD) -> Account:
    """Registers `email` and signs in; returns the account."""
    created = client.post(REGISTER, json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    return sign_in(client, email, password)


@dataclass(frozen=True)
class LiveApi:
    """One running server and the accounts made on it: `user` owns what the tests make,
    `peer` is another ordinary user, `admin` a superuser."""

    backend: str
    server: PorticoProcess
    user: Account
    peer: Account
    admin: Account

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> httpx.Client:
        """A new client of the server (use it as a context manager)."""
        return httpx.Client(base_url=self.url, timeout=10.0)

    def new_account(self, prefix: str = "user") -> Account:
        """A fresh user, signed in (for requests that end or change their session)."""
        with self.client() as client:
            return register(client, unique_email(prefix))

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document the server publishes."""
        with self.client() as client:
            response = client.get("/openapi.json")
        assert response.status_code == 200, response.text
        return dict(response.json())


def _create_superuser(settings: Settings, email: str) -> None:
    """What `portico create-superuser` does, in this process (before the server starts, so
    that a SQLite file has one writer at a time)."""

    async def create() -> None:
        container = Container()
        container.settings.override(providers.Object(settings))
        try:
            await container.create_superuser()(CreateSuperuser(email, PASSWORD))
        finally:
            await close_resources(container)

    run_blocking(create())


@contextmanager
def running_live_api(backend: str, directory: Path, postgres_url: str | None) -> Iterator[LiveApi]:
    """`portico serve` on a fresh, migrated database of `backend` (a SQLite file in
    `directory`, or a new database on the PostgreSQL server `postgres_url`), with its accounts;
    stopped (and the PostgreSQL database dropped) after the block."""
    with ExitStack() as stack:
        if postgres_url is not None:
            url = stack.enter_context(migrated_database(postgres_url, "contract_http"))
        else:
            url = sqlite_url(directory / "portico.db")
            upgrade(url)
        env = portico_environment(
            url,
            STORAGE_DIR=str(directory / "storage"),
            LOGIN_LIMIT_PER_ADDRESS=GENEROUS,
            REGISTER_LIMIT_PER_ADDRESS=GENEROUS,
            RECOVERY_LIMIT_PER_ADDRESS=GENEROUS,
            LOGIN_ACCOUNT_CEILING=GENEROUS,
        )
        admin_email = unique_email("admin")
        _create_superuser(Settings(environment="test", database_url=url), admin_email)
        server = PorticoProcess(f"contract-{backend}", env, directory)
        stack.callback(server.stop)
        server.start()
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            admin = sign_in(client, admin_email)
            user = register(client, unique_email("owner"))
            peer = register(client, unique_email("peer"))
        yield LiveApi(backend, server, user, peer, admin)
