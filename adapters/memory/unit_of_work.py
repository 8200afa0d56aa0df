"""The in-memory unit of work: serialised transactions over a MemoryStore."""

from __future__ import annotations

from typing import Any

from adapters.memory.attachments import InMemoryAttachmentRepository
from adapters.memory.idempotency import InMemoryIdempotencyRecords, StagedRecords
from adapters.memory.jobs import InMemoryJobOutbox, StagedJobs
from adapters.memory.repositories import InMemoryItemRepository, InMemoryUserRepository, _Staged
from adapters.memory.sessions import (
    InMemoryPasswordResetTokenRepository,
    InMemoryRefreshTokenRepository,
)
from adapters.memory.store import MemoryStore
from application.ports.unit_of_work import Reactions, UnitOfWork
from domain.attachments import Attachment
from domain.items import Item
from domain.sessions import PasswordResetToken, RefreshToken
from domain.users import User


class InMemoryUnitOfWork(UnitOfWork):
    """Holds the store's lock for the whole transaction; commit applies the staged changes."""

    def __init__(self, store: MemoryStore, reactions: Reactions) -> None:
        super().__init__(reactions)
        self._store = store
        self._users = _Staged[User](store.users)
        self._items = _Staged[Item](store.items)
        self.users = InMemoryUserRepository(self._users, self._items)
        self.items = InMemoryItemRepository(self._items)
        self._attachments = _Staged[Attachment](store.attachments)
        self.attachments = InMemoryAttachmentRepository(
            self._attachments, lambda item_id: self._items.get(item_id) is not None
        )
        self._refresh = _Staged[RefreshToken](store.refresh_tokens)
        self._reset = _Staged[PasswordResetToken](store.reset_tokens)
        self.refresh_tokens = InMemoryRefreshTokenRepository(self._refresh)
        self.reset_tokens = InMemoryPasswordResetTokenRepository(self._reset)
        self._idempotency = StagedRecords(store.idempotency)
        self.idempotency = InMemoryIdempotencyRecords(self._idempotency)
        self._jobs = StagedJobs(store.jobs)
        self.jobs = InMemoryJobOutbox(self._jobs)
        self.committed = False

    async def _begin(self) -> None:
        await self._store.lock.acquire()

    def _tables(self) -> tuple[_Staged[Any], ...]:
        return (self._users, self._items, self._attachments, self._refresh, self._reset)

    async def _commit(self) -> None:
        for table in self._tables():
            table.apply()
        self._idempotency.apply()
        self._jobs.apply()
        self.committed = True

    async def _rollback(self) -> None:
        for table in self._tables():
            table.changes.clear()
        self._idempotency.discard()
        self._jobs.discard()

    async def _close(self) -> None:
        self._store.lock.release()
