"""The real app over its own container, per test module, on SQLite and (when there) PostgreSQL.

A module picks its backends by overriding the `backend` fixture; by default every test runs on
both (`PORTICO_HTTP_BACKENDS=memory` runs them on the in-memory adapters instead, for speed).
The PostgreSQL database is shared by the whole session, so tests make their own users (unique
emails) and assert only on data they made.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from dependency_injector import providers
from starlette.types import ASGIApp

from adapters.memory.jobs import InMemoryJobQueue
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.migrate import upgrade_async
from application.errors import DependencyUnavailable
from application.ports import EmailMessage
from application.ports.jobs import JobQueue
from application.use_cases.accounts.create_superuser import CreateSuperuser
from entrypoints.container import Container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings

PASSWORD = "correct horse battery"
LOGIN_LIMIT_PER_ACCOUNT = 5


def test_settings(database_url: str, **overrides: object) -> Settings:
    """Fast, isolated settings: cheap bcrypt, generous per-address login and recovery limits."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "bcrypt_rounds": 4,
        "login_limit_per_address": 10_000,
        "register_limit_per_address": 10_000,
        "login_limit_per_account": LOGIN_LIMIT_PER_ACCOUNT,
        "recovery_limit_per_address": 10_000,
        "cors_origins": ["https://app.example"],
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def make_container(settings: Settings) -> Container:
    """A container of its own, over these settings."""
    container = Container()
    container.settings.override(providers.Object(settings))
    return container


BACKENDS = os.environ.get("PORTICO_HTTP_BACKENDS", "sqlite,postgres").split(",")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the module's app runs on (override to pin one)."""
    return str(request.param)


@pytest.fixture(scope="module")
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/t.db"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def container(backend: str, database_url: str) -> Container:
    await upgrade_async(database_url)
    container = make_container(test_settings(database_url))
    if backend == "memory":
        store = MemoryStore()
        container.uow.override(providers.Factory(InMemoryUnitOfWork, store, container.messagebus))
        container.job_queue.override(providers.Object(InMemoryJobQueue(store)))
    # Before anything is built: the mail handlers hold the sender they were made with.
    container.email_sender.override(providers.Object(RecordingEmailSender(container.job_queue())))
    return container


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(container: Container) -> AsyncIterator[ASGIApp]:
    """The module's app, whose lifespan runs around the whole module."""
    async with LifespanManager(create_app(container)) as manager:
        yield manager.app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the module's app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@dataclass(frozen=True)
class Account:
    """A registered user and the headers that authenticate as them."""

    id: str
    email: str
    password: str
    headers: dict[str, str]


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def grant_tokens(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> dict[str, str]:
    """Signs in with the password grant; returns the token response (access and refresh)."""
    form = {"grant_type": "password", "username": email, "password": password}
    response = await client.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    return (await grant_tokens(client, email, password))["access_token"]


def bearer(access_token: str) -> dict[str, str]:
    """The headers that authenticate with this access token."""
    return {"Authorization": f"Bearer {access_token}"}


RESET_SUBJECT = "Reset your Portico password"


class RecordingEmailSender:
    """An EmailSender that keeps what it is asked to send (or fails, when told to).

    Mail is sent by jobs, which the app runs in process after answering: `received` waits
    until no job is due or running any more, then reads the mailbox.
    """

    def __init__(self, jobs: JobQueue | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.failing = False
        self.jobs = jobs

    async def settled(self, timeout: float = 10.0) -> None:
        """Return once every job that is due has run (or failed and waits for a retry)."""
        assert self.jobs is not None
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            now = datetime.now(UTC)
            # Waiting first: a job that moves on between the two reads is seen in one of them.
            waiting = await self.jobs.list(state="waiting", limit=1000)
            running = await self.jobs.list(state="running", limit=1)
            if not running and all(job.run_after > now for job in waiting):
                return
            await asyncio.sleep(0.01)
        raise AssertionError("jobs did not settle")

    async def received(self, address: str, subject: str = RESET_SUBJECT) -> list[EmailMessage]:
        """The messages with `subject` sent to `address`, once the jobs have settled."""
        await self.settled()
        return [m for m in self.sent if m.to == address and m.subject == subject]

    async def send(self, message: EmailMessage) -> None:
        if self.failing:
            raise DependencyUnavailable("the mail server is unavailable")
        self.sent.append(message)

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to this address."""
        return [message for message in self.sent if message.to == address]


@pytest.fixture
def email() -> str:
    """An address no one has registered yet."""
    return unique_email()


@pytest.fixture
def new_email() -> str:
    """Another address no one has registered yet."""
    return unique_email()


@pytest.fixture
def sign_in(client: httpx.AsyncClient) -> Callable[[str, str], Awaitable[str]]:
    """Signs in through the token endpoint; returns the access token."""
    return lambda email, password=PASSWORD: _sign_in(client, email, password)


@pytest.fixture
def new_account(client: httpx.AsyncClient) -> Callable[[], Awaitable[Account]]:
    """Registers a fresh user through the API and signs them in."""

    async def make() -> Account:
        email = unique_email()
        response = await client.post(
            "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        token = await _sign_in(client, email)
        headers = {"Authorization": f"Bearer {token}"}
        return Account(response.json()["id"], email, PASSWORD, headers)

    return make


@pytest.fixture
def make_item(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, object]]]:
    """Creates an item through the API: `await make_item(account, api="v1", **body)`."""

    async def make(account: Account, api: str = "v1", **body: object) -> dict[str, object]:
        response = await client.post(
            f"/api/{api}/items", json={"title": "Buy milk", **body}, headers=account.headers
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make


@pytest_asyncio.fixture(loop_scope="module")
async def alice(new_account: Callable[[], Awaitable[Account]]) -> Account:
    return await new_account()


@pytest_asyncio.fixture(loop_scope="module")
async def bob(new_account: Callable[[], Awaitable[Account]]) -> Account:
    return await new_account()


@pytest_asyncio.fixture(loop_scope="module")
async def admin(client: httpx.AsyncClient, container: Container) -> Account:
    """A superuser, made in-process through the container (as the CLI does)."""
    email = unique_email("admin")
    user = await container.create_superuser()(CreateSuperuser(email, PASSWORD))
    token = await _sign_in(client, email)
    return Account(str(user.id), email, PASSWORD, {"Authorization": f"Bearer {token}"})


OwnClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def own_client(tmp_path_factory: pytest.TempPathFactory) -> OwnClient:
    """A client of an app of the test's own, for settings or overrides the module's cannot have.

    `own_client(database_url=None, migrate=True, configure=None, peer=None, **settings)`; app
    exceptions are answered, not raised, so a test sees the 500 a client would. `peer` is the
    TCP peer's `(host, port)` the app sees (httpx's default is `127.0.0.1`).
    """

    @asynccontextmanager
    async def make(
        database_url: str | None = None,
        migrate: bool = True,
        configure: Callable[[Container], None] | None = None,
        peer: tuple[str, int] | None = None,
        **overrides: object,
    ) -> AsyncIterator[httpx.AsyncClient]:
        url = database_url or f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('own')}/t.db"
        if migrate:
            await upgrade_async(url)
        container = make_container(test_settings(url, **overrides))
        if configure is not None:
            configure(container)
        app = create_app(container)
        transport = httpx.ASGITransport(
            app=app, raise_app_exceptions=False, client=peer or ("127.0.0.1", 123)
        )
        async with (
            LifespanManager(app),
            httpx.AsyncClient(transport=transport, base_url="http://test") as client,
        ):
            yield client

    return make


@pytest.fixture(scope="module")
def mailbox(container: Container) -> RecordingEmailSender:
    """Catches the module app's outgoing mail (the container's `email_sender`, overridden)."""
    sender = container.email_sender()
    assert isinstance(sender, RecordingEmailSender)
    return sender


def reset_token_in(message: EmailMessage) -> str:
    """The reset token a recovery mail carries."""
    match = re.search(r"Reset token: (\S+)", message.body)
    assert match is not None, message.body
    return match.group(1)
