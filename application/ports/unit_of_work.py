"""The unit of work: one transaction, its repositories, and what it hands on after commit."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self, TypeVar

from application.ports.idempotency import IdempotencyRecords
from application.ports.jobs import JobOutbox, NewJob
from application.ports.repositories import AttachmentRepository, ItemRepository, UserRepository
from application.ports.sessions import PasswordResetTokenRepository, RefreshTokenRepository
from domain.events import DomainEvent

log = logging.getLogger(__name__)


class Aggregate(Protocol):
    """An entity that records the events of its changes (`Item`, `User`, `Attachment`)."""

    events: list[DomainEvent]


A = TypeVar("A", bound=Aggregate)


class Reactions(Protocol):
    """What a unit of work asks of the message bus (`application.messagebus.MessageBus`)."""

    def outbox(self, messages: Sequence[object]) -> list[NewJob]:
        """The durable jobs that these events and deferred commands cause, to be written in
        the transaction that records them."""
        ...

    async def committed(self, events: Sequence[DomainEvent], jobs: Sequence[NewJob]) -> None:
        """After a commit: run the in-process handlers of `events` (here and, through the
        event bus, in every process) and wake this process's job runner if `jobs`."""
        ...


class UnitOfWork(ABC):
    """A transaction. Commit is explicit; leaving the block without commit rolls back.

    It collects the events of every aggregate it was shown (`track`), and the commands that
    were deferred to a worker (`defer`). At commit the jobs they cause are written to the
    outbox in the same transaction, so a crash cannot separate a change from its mail; the
    in-process reactions run only after the commit succeeded, so nobody hears of a change
    that did not happen.
    """

    users: UserRepository
    items: ItemRepository
    attachments: AttachmentRepository
    refresh_tokens: RefreshTokenRepository
    reset_tokens: PasswordResetTokenRepository
    idempotency: IdempotencyRecords
    jobs: JobOutbox

    def __init__(self, reactions: Reactions) -> None:
        self._reactions = reactions
        self._seen: list[Aggregate] = []
        self._deferred: list[object] = []

    async def __aenter__(self) -> Self:
        self._seen, self._deferred = [], []
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

    def track(self, aggregate: A) -> A:
        """Remember an aggregate so that its recorded events are handed on; return it."""
        if not any(seen is aggregate for seen in self._seen):  # its events are taken once
            self._seen.append(aggregate)
        return aggregate

    def defer(self, command: object) -> None:
        """Have a worker run `command` (one the message bus lists as durable) once this unit
        of work commits; it is written to the outbox in the same transaction."""
        self._deferred.append(command)

    async def commit(self) -> None:
        """Write the jobs the recorded events cause, make everything durable, then hand the
        events to the in-process handlers.

        Raises DependencyUnavailable when the store is unreachable, Conflict on a constraint.
        """
        events = [event for aggregate in self._seen for event in aggregate.events]
        jobs = self._reactions.outbox([*events, *self._deferred])
        for job in jobs:
            await self.jobs.add(job, now=job.run_after)
        await self._commit()
        self._deferred = []
        for aggregate in self._seen:
            aggregate.events.clear()
        try:
            await self._reactions.committed(events, jobs)
        except Exception:  # the change is committed; a lost notification must not undo it
            log.exception("could not hand on %d committed events", len(events))

    @abstractmethod
    async def _begin(self) -> None: ...

    @abstractmethod
    async def _commit(self) -> None: ...

    @abstractmethod
    async def _rollback(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None:
        """Release resources (a connection, a session, a lock)."""
