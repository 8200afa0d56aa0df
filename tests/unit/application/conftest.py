"""Use cases wired to in-memory adapters and fakes: fast, and honest per the contract tests."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from adapters.memory.clock import FrozenClock
from adapters.memory.events import RecordingPublisher
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.cursors import CursorCodec
from application.dto import Actor
from application.use_cases.accounts.register_user import RegisterUser, RegisterUserHandler
from tests.fakes import FakePasswordHasher, FakeTokenService


@dataclass
class World:
    """Everything a use case needs, in memory."""

    store: MemoryStore = field(default_factory=MemoryStore)
    publisher: RecordingPublisher = field(default_factory=RecordingPublisher)
    clock: FrozenClock = field(default_factory=FrozenClock)
    hasher: FakePasswordHasher = field(default_factory=FakePasswordHasher)
    tokens: FakeTokenService = field(default_factory=FakeTokenService)
    cursors: CursorCodec = field(default_factory=lambda: CursorCodec(b"k" * 32))

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.store, self.publisher)

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
