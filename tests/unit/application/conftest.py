"""Use cases wired to in-memory adapters and fakes: fast, and honest per the contract tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from adapters.limits.rate_limiter import LimitsRateLimiter
from adapters.memory.cache import InMemoryItemCache
from adapters.memory.clock import FrozenClock
from adapters.memory.events import InProcessEventBus, RecordingPublisher
from adapters.memory.sessions import InMemoryTokenDenylist
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.cursors import CursorCodec
from application.dto import Actor
from application.ports import RateLimit
from application.resilience.cache import CacheUpdater
from application.services.known_users import KnownUsers
from application.services.revocation import SessionRevoker
from application.services.sessions import SessionIssuer, TokensIssued
from application.use_cases.accounts.authenticate import AuthenticateHandler
from application.use_cases.accounts.password_grant import (
    PasswordGrant,
    PasswordGrantHandler,
    PasswordGrantLimits,
)
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from tests.fakes import FakePasswordHasher, FakeTokenService, RecordingEmailSender


@dataclass
class World:
    """Everything a use case needs, in memory."""

    store: MemoryStore = field(default_factory=MemoryStore)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    clock: FrozenClock = field(default_factory=FrozenClock)
    hasher: FakePasswordHasher = field(default_factory=FakePasswordHasher)
    tokens: FakeTokenService = field(default_factory=FakeTokenService)
    cursors: CursorCodec = field(default_factory=lambda: CursorCodec(b"k" * 32))
    denylist: InMemoryTokenDenylist = field(init=False)
    cache: InMemoryItemCache = field(init=False)
    bus: InProcessEventBus = field(init=False)
    known: KnownUsers = field(init=False)
    limiter: LimitsRateLimiter = field(default_factory=lambda: LimitsRateLimiter("memory://"))
    limits: PasswordGrantLimits = field(
        default_factory=lambda: PasswordGrantLimits(
            RateLimit("ip", 20, 60),
            RateLimit("account-address", 5, 60),
            RateLimit("account", 12, 3600),
            RateLimit("account-address-past-ceiling", 1, 3600),
            RateLimit("priority", 5, 60),
        )
    )
    refresh_ttl: int = 3600
    mailbox: RecordingEmailSender = field(default_factory=lambda: RecordingEmailSender())

    def __post_init__(self) -> None:
        self.denylist = InMemoryTokenDenylist(self.clock)
        self.cache = InMemoryItemCache(self.clock, ttl_seconds=60)
        self.bus = InProcessEventBus()
        self.known = KnownUsers()
        self.bus.subscribe(CacheUpdater(self.cache).apply)
        self.bus.subscribe(self.known.forget)
        self.bus.subscribe(self.publisher.publish)

    @property
    def sessions(self) -> SessionIssuer:
        return SessionIssuer(self.tokens, self.clock, self.refresh_ttl)

    @property
    def revoker(self) -> SessionRevoker:
        return SessionRevoker(self.denylist, self.clock, self.tokens.ttl)

    def grant(self) -> PasswordGrantHandler:
        return PasswordGrantHandler(self.uow, self.hasher, self.sessions, self.limiter, self.limits)

    def authenticate(self) -> AuthenticateHandler:
        """Remembers users across calls, as the service's handler does."""
        return AuthenticateHandler(self.uow, self.tokens, self.denylist, self.clock, self.known)

    async def sign_in(
        self,
        email: str = "ada@example.com",
        password: str = "correct horse",  # noqa: S107
    ) -> TokensIssued:
        return await self.grant()(PasswordGrant(email, password, "10.0.0.1"))

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(
            self.store,
            self.bus,
        )

    async def register(self, email: str = "ada@example.com", *, superuser: bool = False) -> Actor:
        view = await RegisterUserHandler(self.uow, self.hasher, self.clock)(
            RegisterUser(email, "correct horse")
        )
        if superuser:
            self.store.users[view.id].set_superuser(True)
        return Actor(view.id, superuser)


@pytest.fixture
def world() -> World:
    return World()
