"""Sign-in and recovery abuse: rate limits per client address and per account, the client
address as seen through trusted proxies only, and sign-in failures that are one answer on one
code path (so neither the body nor the work done tells an unknown account from a wrong
password)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from dependency_injector import providers

from adapters.bcrypt.hasher import BcryptPasswordHasher
from adapters.sqlalchemy.migrate import upgrade_async
from application.use_cases.accounts.create_superuser import CreateSuperuser
from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.http.conftest import PASSWORD, make_container, test_settings, unique_email

TOKEN = "/api/v1/auth/token"
RECOVERY = "/api/v1/auth/password-recovery"
WRONG = "wrong password!"


class Site:
    """An app of its own, and clients of it from any TCP peer address."""

    def __init__(self, container: Container, stack: AsyncExitStack) -> None:
        self.container, self._stack = container, stack
        self.app = create_app(container)
        self._clients: dict[str, httpx.AsyncClient] = {}

    def peer(self, host: str) -> httpx.AsyncClient:
        """A client whose requests reach the app from `host`."""
        if host not in self._clients:
            transport = httpx.ASGITransport(app=self.app, client=(host, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://test")
            self._stack.push_async_callback(client.aclose)
            self._clients[host] = client
        return self._clients[host]


@asynccontextmanager
async def site(
    db_dir: Path, configure: Callable[[Container], None] | None = None, **settings: object
) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{db_dir}/t.db"
    await upgrade_async(url)
    container = make_container(test_settings(url, **settings))
    if configure is not None:
        configure(container)
    async with AsyncExitStack() as stack:
        served = Site(container, stack)
        await stack.enter_async_context(LifespanManager(served.app))
        yield served


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    return tmp_path


def grant(username: str, password: str = WRONG) -> dict[str, str]:
    return {"grant_type": "password", "username": username, "password": password}


async def register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201


def assert_rate_limited(response: httpx.Response, window: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 429
    assert response.json()["type"].endswith(":rate-limited")
    assert response.headers["retry-after"].isdigit()
    assert 0 < int(response.headers["retry-after"]) <= window


# --- per client address -----------------------------------------------------------------------


async def test_limits_sign_in_attempts_per_client_address(db_dir: Path):
    async with site(db_dir, login_limit_per_address=3) as app:
        attacker, bystander = app.peer("198.51.100.7"), app.peer("198.51.100.8")
        tried = [
            (await attacker.post(TOKEN, data=grant(unique_email()))).status_code for _ in range(3)
        ]

        limited = await attacker.post(TOKEN, data=grant(unique_email()))
        other = await bystander.post(TOKEN, data=grant(unique_email()))

        assert tried == [400, 400, 400]
        assert_rate_limited(limited, window=60)
        assert other.status_code == 400


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_key(
    db_dir: Path,
):
    async with site(db_dir, login_limit_per_address=3) as app:
        attacker = app.peer("198.51.100.7")
        for n in range(3):
            await attacker.post(
                TOKEN, data=grant(unique_email()), headers={"X-Forwarded-For": f"203.0.113.{n}"}
            )

        response = await attacker.post(
            TOKEN, data=grant(unique_email()), headers={"X-Forwarded-For": "203.0.113.99"}
        )

        assert_rate_limited(response, window=60)


async def test_a_trusted_proxy_names_the_client_by_its_forwarded_for(db_dir: Path):
    async with site(db_dir, login_limit_per_address=3, trusted_proxies=["10.0.0.0/8"]) as app:
        proxy = app.peer("10.1.2.3")
        for _ in range(3):
            await proxy.post(
                TOKEN, data=grant(unique_email()), headers={"X-Forwarded-For": "203.0.113.1"}
            )

        same_client = await proxy.post(
            TOKEN,
            data=grant(unique_email()),
            headers={"X-Forwarded-For": "192.0.2.66, 203.0.113.1, 10.9.9.9"},
        )
        other_client = await proxy.post(
            TOKEN, data=grant(unique_email()), headers={"X-Forwarded-For": "203.0.113.2"}
        )

        assert_rate_limited(same_client, window=60)
        assert other_client.status_code == 400


# --- per account ------------------------------------------------------------------------------


async def test_wrong_guesses_on_an_account_stop_the_guessing_address_not_the_owner(db_dir: Path):
    email = unique_email()
    async with site(db_dir, login_limit_per_account=3) as app:
        owner, guesser = app.peer("192.0.2.1"), app.peer("198.51.100.9")
        await register(owner, email)
        tried = [(await guesser.post(TOKEN, data=grant(email))).status_code for _ in range(3)]

        guesser_with_the_password = await guesser.post(TOKEN, data=grant(email, PASSWORD))
        owner_signs_in = await owner.post(TOKEN, data=grant(email.upper(), PASSWORD))

        assert tried == [400, 400, 400]
        assert_rate_limited(guesser_with_the_password, window=60)
        assert owner_signs_in.status_code == 200, owner_signs_in.text


async def test_past_the_accounts_ceiling_an_address_gets_one_attempt_and_the_owner_gets_in(
    db_dir: Path,
):
    email = unique_email()
    settings = {"login_limit_per_account": 3, "login_account_ceiling": 6}
    async with site(db_dir, **settings) as app:
        owner = app.peer("192.0.2.1")
        await register(owner, email)
        tried = [
            (await app.peer(f"198.51.100.{n}").post(TOKEN, data=grant(email))).status_code
            for n in range(6)  # one wrong guess each: under every address's own limit
        ]
        guesser = app.peer("203.0.113.5")
        one_more = await guesser.post(TOKEN, data=grant(email))

        refused = await guesser.post(TOKEN, data=grant(email, PASSWORD))
        owner_signs_in = await owner.post(TOKEN, data=grant(email, PASSWORD))

        assert tried == [400] * 6
        assert one_more.status_code == 400
        assert_rate_limited(refused, window=3600)
        assert owner_signs_in.status_code == 200, owner_signs_in.text


async def test_a_successful_sign_in_clears_its_addresses_count(db_dir: Path):
    email = unique_email()
    async with site(db_dir, login_limit_per_account=3) as app:
        client = app.peer("192.0.2.1")
        await register(client, email)
        for _ in range(2):
            await client.post(TOKEN, data=grant(email))
        assert (await client.post(TOKEN, data=grant(email, PASSWORD))).status_code == 200

        tried = [(await client.post(TOKEN, data=grant(email))).status_code for _ in range(3)]

        assert tried == [400, 400, 400]


# --- a full hashing queue ---------------------------------------------------------------------


async def test_sign_ins_past_the_hashing_queue_are_answered_503_at_once(db_dir: Path):
    async with site(db_dir, bcrypt_rounds=10, bcrypt_threads=1, bcrypt_max_waiting=1) as app:
        answers = await asyncio.gather(
            *(app.peer(f"198.51.100.{n}").post(TOKEN, data=grant(unique_email())) for n in range(6))
        )

    statuses = [answer.status_code for answer in answers]
    assert statuses.count(400) == 2  # one hashing, one waiting
    assert statuses.count(503) == 4
    refused = answers[statuses.index(503)]
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith(":overloaded")
    assert refused.headers["retry-after"] == "1"


# --- password recovery ------------------------------------------------------------------------


async def test_limits_recovery_requests_per_client_address(db_dir: Path):
    async with site(db_dir, recovery_limit_per_address=2, recovery_limit_window_seconds=600) as app:
        client = app.peer("198.51.100.7")
        sent = [
            (await client.post(RECOVERY, json={"email": unique_email()})).status_code
            for _ in range(2)
        ]

        limited = await client.post(RECOVERY, json={"email": unique_email()})
        elsewhere = await app.peer("198.51.100.8").post(RECOVERY, json={"email": unique_email()})

        assert sent == [202, 202]
        assert_rate_limited(limited, window=600)
        assert elsewhere.status_code == 202


# --- one answer, one code path ----------------------------------------------------------------


class SpyHasher(BcryptPasswordHasher):
    """The real hasher, noting which verification each sign-in spent."""

    def __init__(self, *, rounds: int, executor: ThreadPoolExecutor) -> None:
        super().__init__(rounds=rounds, executor=executor)
        self.calls: list[str] = []

    async def verify(self, password: str, hashed: str) -> bool:
        self.calls.append("verify")
        return await super().verify(password, hashed)

    async def dummy_verify(self, password: str) -> None:
        self.calls.append("dummy_verify")
        await super().dummy_verify(password)


def spying(container: Container) -> None:
    container.hasher.override(
        providers.Singleton(SpyHasher, rounds=4, executor=container.bcrypt_pool)
    )


async def test_every_failed_sign_in_spends_one_bcrypt_verification_and_gets_one_answer(
    db_dir: Path,
):
    email, inactive = unique_email(), unique_email()
    async with site(db_dir, configure=spying) as app:
        client, spy = app.peer("192.0.2.1"), app.container.hasher()
        assert isinstance(spy, SpyHasher)
        await register(client, email)
        await deactivate(app, inactive)
        attempts = {
            "unknown": grant(unique_email()),
            "not-an-email": grant("nobody"),
            "over-long": grant(email, "a" * 73),
            "wrong-password": grant(email),
            "inactive": grant(inactive, PASSWORD),
        }
        spent, answers = {}, {}
        for name, form in attempts.items():
            spy.calls.clear()
            answers[name] = await client.post(TOKEN, data=form)
            spent[name] = list(spy.calls)

    assert spent == {
        "unknown": ["dummy_verify"],
        "not-an-email": ["dummy_verify"],
        "over-long": ["dummy_verify"],
        "wrong-password": ["verify"],
        "inactive": ["verify"],
    }
    assert len({answer.content for answer in answers.values()}) == 1
    assert answers["unknown"].status_code == 400
    assert answers["unknown"].json()["error"] == "invalid_grant"


async def deactivate(app: Site, email: str) -> None:
    """Register an account, then deactivate it as a superuser would, through the API."""
    client = app.peer("192.0.2.250")
    await register(client, email)
    admin_email = unique_email("admin")
    await app.container.create_superuser()(CreateSuperuser(admin_email, PASSWORD))
    form = {"grant_type": "password", "username": admin_email, "password": PASSWORD}
    admin = {
        "Authorization": f"Bearer {(await client.post(TOKEN, data=form)).json()['access_token']}"
    }
    users = (await client.get("/api/v1/users", params={"limit": 100}, headers=admin)).json()
    [user] = [u for u in users if u["email"] == email]
    response = await client.patch(
        f"/api/v1/users/{user['id']}", json={"is_active": False}, headers=admin
    )
    assert response.status_code == 200
