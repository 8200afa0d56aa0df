"""The in-memory unit of work: serialised transactions over a MemoryStore."""

from __future__ import annotations

from adapters.memory.repositories import InMemoryItemRepository, InMemoryUserRepository, _Staged
from adapters.memory.store import MemoryStore
from application.ports.events import EventPublisher
from application.ports.unit_of_work import UnitOfWork
from domain.items import Item
from domain.users import User


class InMemoryUnitOfWork(UnitOfWork):
    """Holds the store's lock for the whole transaction; commit applies the staged changes."""

    def __init__(self, store: MemoryStore, publisher: EventPublisher) -> None:
        super().__init__(publisher)
        self._store = store
        self._users = _Staged[User](store.users)
        self._items = _Staged[Item](store.items)
        self.users = InMemoryUserRepository(self._users, self._items)
        self.items = InMemoryItemRepository(self._items)
        self.committed = False

    async def _begin(self) -> None:
        await self._store.lock.acquire()

    async def _commit(self) -> None:
        self._users.apply()
        self._items.apply()
        self.committed = True

    async def _rollback(self) -> None:
        self._users.changes.clear()
        self._items.changes.clear()

    async def _close(self) -> None:
        self._store.lock.release()
