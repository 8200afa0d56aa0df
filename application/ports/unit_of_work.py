"""The unit of work: one transaction, its repositories, and the events it releases."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from application.ports.events import EventPublisher
from application.ports.idempotency import IdempotencyRecords
from application.ports.repositories import ItemRepository, UserRepository
from application.ports.sessions import PasswordResetTokenRepository, RefreshTokenRepository
from domain.events import DomainEvent
from domain.items import Item

log = logging.getLogger(__name__)


class UnitOfWork(ABC):
    """A transaction. Commit is explicit; leaving the block without commit rolls back.

    Items that repositories hand out are tracked; their recorded events are handed to the
    publisher only after a successful commit, so nobody hears of a change that did not happen.
    """

    users: UserRepository
    items: ItemRepository
    refresh_tokens: RefreshTokenRepository
    reset_tokens: PasswordResetTokenRepository
    idempotency: IdempotencyRecords

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher
        self._seen: list[Item] = []
        self._emitted: list[DomainEvent] = []

    async def __aenter__(self) -> Self:
        self._seen, self._emitted = [], []
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._rollback()
        finally:
            await self._close()

    def track(self, item: Item) -> Item:
        """Remember an item so that its events are released after commit; return it."""
        self._seen.append(item)
        return item

    def emit(self, event: DomainEvent) -> None:
        """Queue an event that belongs to no tracked item, for release after commit."""
        self._emitted.append(event)

    async def commit(self) -> None:
        """Make the changes durable, then hand every recorded event to the publisher.

        Raises DependencyUnavailable when the store is unreachable, Conflict on a constraint.
        """
        await self._commit()
        events: list[DomainEvent] = [event for item in self._seen for event in item.events]
        events += self._emitted
        self._emitted = []
        for item in self._seen:
            item.events.clear()
        for event in events:
            await self._release(event)

    async def _release(self, event: DomainEvent) -> None:
        try:
            await self._publisher.publish(event)
        except Exception:  # the change is committed; a lost notification must not undo it
            log.exception("could not publish %s", event.name)

    @abstractmethod
    async def _begin(self) -> None: ...

    @abstractmethod
    async def _commit(self) -> None: ...

    @abstractmethod
    async def _rollback(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None:
        """Release resources (a connection, a session, a lock)."""
