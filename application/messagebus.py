"""Who reacts to what: the one table from each event (and deferred command) to its handlers.

Read `reactions` to learn what happens after a change. Each handler is one of two kinds:

- `AfterCommit` — *in process, after commit*. Runs in every process once the change is
  committed: in this one before the write answers, in the others when the event bus brings
  the event (Redis pub/sub when scaled out). Cheap; lost if a process dies between the commit
  and the delivery. What that costs is bounded elsewhere: caches and the denylist copy are
  resynchronised, sockets re-check their tokens (see the README, "Events").
- `Durable` — *durable, run by a worker*. Written to the outbox (the job queue) in the same
  transaction as the change, so nothing accepted is lost; run once by whichever worker
  leases it, retried with backoff, and idempotent, since a job can run twice when its
  worker dies after the work but before recording it.

Nothing subscribes by hand anywhere else: the container builds one `MessageBus` over the
handler objects (`Handlers`), and the event bus delivers to `MessageBus.handle` only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from application.ports.clock import Clock
from application.ports.events import EventBus, LinkWatcher, LiveUpdates
from application.ports.jobs import LeasedJob, NewJob
from application.resilience.cache import CacheUpdater
from application.resilience.delivery import deliver
from application.services.known_users import KnownUsers
from application.snapshots import from_fields, to_fields
from application.use_cases.accounts.account_mail import AccountMail
from application.use_cases.accounts.password_recovery import SendPasswordRecovery
from application.use_cases.attachments.blob_cleanup import SWEEP_KIND, BlobCleanup, SweepOrphanBlobs
from domain.events import (
    AccessRevoked,
    AttachmentDeleted,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemUpdated,
    UserChanged,
    UserRegistered,
)
from domain.ids import new_id

log = logging.getLogger(__name__)

M = TypeVar("M")


@dataclass(frozen=True, slots=True)
class AfterCommit:
    """In process, after commit, in every process: may be lost with the process."""

    handler: Callable[[DomainEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Durable(Generic[M]):
    """Through the outbox, on a worker: retried until it succeeds (or is kept as failed).

    `kind` names the job in the queue and in `portico jobs list`; it must not change while
    jobs of it may be waiting.
    """

    kind: str
    handler: Callable[[M, LeasedJob], Awaitable[None]]


Reaction = AfterCommit | Durable[Any]


class DenylistCopy(LinkWatcher, Protocol):
    """This process's copy of the denylist (`MirroredDenylist`): it hears revocations."""

    async def hear(self, event: DomainEvent) -> None:
        """Copy a revocation made anywhere."""
        ...


@dataclass(frozen=True, slots=True)
class Handlers:
    """The objects whose methods the table names; the container builds each once."""

    cache_updater: CacheUpdater
    item_cache: LinkWatcher
    known_users: KnownUsers
    denylist: DenylistCopy
    live: LiveUpdates
    mail: AccountMail
    blobs: BlobCleanup


def reactions(h: Handlers) -> dict[type, tuple[Reaction, ...]]:
    """THE TABLE: each event, or command deferred to a worker, and what handles it."""
    item_changed = (AfterCommit(h.cache_updater.apply), AfterCommit(h.live.dispatch))
    return {
        ItemCreated: item_changed,
        ItemUpdated: item_changed,
        ItemDeleted: item_changed,
        AccessRevoked: (
            AfterCommit(h.denylist.hear),
            AfterCommit(h.known_users.forget),
            AfterCommit(h.live.dispatch),  # closes the sockets the revocation covers
        ),
        UserChanged: (
            AfterCommit(h.known_users.forget),
            AfterCommit(h.live.dispatch),  # closes the user's sockets: a reconnect sees the role
        ),
        UserRegistered: (Durable("mail.welcome", h.mail.welcome),),
        SendPasswordRecovery: (Durable("mail.password-recovery", h.mail.password_recovery),),
        # The stored bytes of an attachment deleted alone, with its item or with its owner.
        AttachmentDeleted: (Durable("blobs.remove", h.blobs.remove),),
        # Once per BLOB_SWEEP_SECONDS ("blobs.sweep"): bytes no attachment claims (an upload
        # whose process died before its record was committed); each sweep enqueues the next.
        SweepOrphanBlobs: (Durable(SWEEP_KIND, h.blobs.sweep),),
    }


def link_watchers(h: Handlers) -> tuple[LinkWatcher, ...]:
    """What must stop trusting per-process state while the event bus may miss events."""
    return (h.known_users, h.denylist, h.item_cache, h.live)


JobHandler = Callable[[LeasedJob], Awaitable[None]]


class MessageBus:
    """Runs the table: writes durable reactions to the outbox at commit, runs in-process
    ones when the event bus delivers an event, and hands workers their job handlers."""

    def __init__(self, transport: EventBus, handlers: Handlers, clock: Clock) -> None:
        self._transport, self._clock = transport, clock
        table = reactions(handlers)
        self._after_commit: dict[type, tuple[Callable[[DomainEvent], Awaitable[None]], ...]] = {
            kind: tuple(r.handler for r in entries if isinstance(r, AfterCommit))
            for kind, entries in table.items()
        }
        self._durable: dict[type, tuple[Durable[Any], ...]] = {
            kind: tuple(r for r in entries if isinstance(r, Durable))
            for kind, entries in table.items()
        }
        self._jobs: dict[str, JobHandler] = {
            reaction.kind: _job_handler(kind, reaction)
            for kind, entries in self._durable.items()
            for reaction in entries
        }
        self._watchers = link_watchers(handlers)
        self._wake: Callable[[], None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # -- the unit of work's side (application.ports.unit_of_work.Reactions) -----------------

    def outbox(self, messages: Sequence[object]) -> list[NewJob]:
        """One job per durable reaction to each message, due now."""
        if not messages:
            return []
        now = self._clock.now()
        return [
            NewJob(new_id(now), reaction.kind, to_fields(message), now)
            for message in messages
            for reaction in self._durable.get(type(message), ())
        ]

    async def committed(self, events: Sequence[DomainEvent], jobs: Sequence[NewJob]) -> None:
        """Publish the events that have in-process handlers (delivered here at once, and to
        every other process), then wake this process's job runner if jobs were written."""
        for event in events:
            if self._after_commit.get(type(event)):
                await self._transport.publish(event)
        if jobs and self._wake is not None:
            self._wake()

    # -- every process's side ----------------------------------------------------------------

    async def handle(self, event: DomainEvent) -> None:
        """The event bus's one subscriber: run the in-process handlers of `event` in table
        order; one failing handler is logged and starves none of the others."""
        await deliver(event, self._after_commit.get(type(event), ()))

    def job_handlers(self) -> Mapping[str, JobHandler]:
        """The worker's handlers, by job kind: each decodes its message and runs the table's
        durable handler."""
        return self._jobs

    def wake_jobs_with(self, wake: Callable[[], None]) -> None:
        """Have `wake` called after each commit that wrote jobs (an in-process runner)."""
        self._wake = wake

    async def start(self) -> None:
        """Subscribe to the event bus, tell it who watches its link, and start it."""
        if self._unsubscribe is None:
            self._unsubscribe = self._transport.subscribe(self.handle)
            for watcher in self._watchers:
                self._transport.watch(watcher)
        await self._transport.start()

    async def stop(self) -> None:
        """Stop hearing events."""
        await self._transport.stop()


def _job_handler(kind: type[M], reaction: Durable[M]) -> JobHandler:
    async def run(job: LeasedJob) -> None:
        await reaction.handler(from_fields(kind, job.payload), job)

    run.__qualname__ = f"{reaction.kind} job"
    return run
