"""Use cases wired to in-memory adapters and fakes: fast, and honest per the contract tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from adapters.limits.rate_limiter import LimitsRateLimiter
from adapters.memory.cache import InMemoryItemCache
from adapters.memory.clock import FrozenClock
from adapters.memory.events import InProcessEventBus, RecordingPublisher
from adapters.memory.jobs import InMemoryJobQueue
from adapters.memory.sessions import InMemoryTokenDenylist
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.cursors import CursorCodec
from application.dto import Actor
from application.jobs.runner import JobRunner
from application.messagebus import Handlers, MessageBus
from application.ports import RateLimit
from application.resilience.cache import CacheUpdater
from application.services.known_users import KnownUsers
from application.services.revocation import SessionRevoker
from application.services.sessions import SessionIssuer, TokensIssued
from application.use_cases.accounts.account_mail import AccountMail, MailSettings
from application.use_cases.accounts.authenticate import AuthenticateHandler
from application.use_cases.accounts.password_grant import (
    PasswordGrant,
    PasswordGrantHandler,
    PasswordGrantLimits,
)
from application.use_cases.accounts.password_recovery import RecoverySettings
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from application.use_cases.attachments.blob_cleanup import BlobCleanup
from tests.fakes import (
    DeafDenylistCopy,
    FakePasswordHasher,
    FakeTokenService,
    InMemoryBlobStore,
    RecordingEmailSender,
    RecordingLiveUpdates,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RECOVERY = RecoverySettings(600, "https://app/reset", RateLimit("recovery", 5, 3600))


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
        self.live = RecordingLiveUpdates()
        self.mail = AccountMail(
            self.uow, self.clock, self.mailbox, RECOVERY, MailSettings("portico.test", b"k" * 32)
        )
        self.blobs = InMemoryBlobStore(self.clock)
        self.blob_cleanup = BlobCleanup(self.blobs, self.uow, self.clock, 3600, 3600)
        self.handlers = Handlers(
            CacheUpdater(self.cache),
            self.cache,
            self.known,
            DeafDenylistCopy(),
            self.live,
            self.mail,
            self.blob_cleanup,
        )
        self.messagebus = MessageBus(self.bus, self.handlers, self.clock)
        self.bus.subscribe(self.messagebus.handle)
        self.bus.subscribe(self.publisher.publish)
        self.jobs = InMemoryJobQueue(self.store)
        self.runner = JobRunner(self.jobs, self.messagebus.job_handlers(), self.clock)

    async def run_jobs(self) -> int:
        """Run every due job (as a worker would); return how many ran."""
        return await self.runner.run_until_idle()

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
        return InMemoryUnitOfWork(self.store, self.messagebus)

    async def register(self, email: str = "ada@example.com", *, superuser: bool = False) -> Actor:
        view = await RegisterUserHandler(self.uow, self.hasher, self.clock)(
            RegisterUser(email, "correct horse")
        )
        if superuser:
            self.store.users[view.id].change_role(is_superuser=True, now=NOW)
        return Actor(view.id, superuser)


@pytest.fixture
def world() -> World:
    return World()
