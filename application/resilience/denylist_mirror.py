"""The denylist every request checks: this process's exact copy of a durable one.

Revocations are written to the durable store (the database) first, so none is lost to a
restart, then to this process's copy; other processes hear of them as `AccessRevoked` events
on the event bus and copy them too. Checks ask the copy, so a request pays no network round
trip for them, and the database only while the copy may be incomplete:

- until the event bus first hears every process and the copy is then loaded from the
  durable store;
- while the event bus is down (revocations made elsewhere cannot be heard), and after it is
  back until the copy is reloaded, in the background, never inside a request;
- never because of load: nothing here waits for or fails on a busy pool.

Every `RESYNC_SECONDS` the copy is also merged with the durable store in the background, so
a revocation whose event was lost (its process died between the commit and the publish)
reaches every process within that bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from uuid import UUID

from application.errors import DependencyUnavailable
from application.ports.clock import Clock
from application.ports.security import AccessClaims
from application.ports.sessions import DurableTokenDenylist, TokenDenylist
from domain.events import AccessRevoked, DomainEvent

log = logging.getLogger(__name__)

RESYNC_SECONDS = 30.0
"""How often the copy is merged with the durable store, whatever the event bus says."""
RELOAD_RETRY_SECONDS = 1.0
"""How long a failed reload (the database is down) waits before trying again."""


class MirroredDenylist:
    """TokenDenylist over a durable store and this process's copy of it (see the module).

    It is also an event-bus subscriber (`hear`) and a LinkWatcher (`link_down`/`link_up`).
    """

    def __init__(
        self,
        durable: DurableTokenDenylist,
        copy: TokenDenylist,
        clock: Clock,
        access_ttl_seconds: int,
        resync_seconds: float = RESYNC_SECONDS,
    ) -> None:
        self._durable, self._copy, self._clock = durable, copy, clock
        self._ttl, self._resync_seconds = access_ttl_seconds, resync_seconds
        self._complete = False  # until loaded from the durable store while hearing events
        self._hearing = False  # whether the event bus delivers every process's revocations
        self._losses = 0  # times revocations made elsewhere may have been missed
        self._reloading: asyncio.Task[None] | None = None
        self._resyncing: asyncio.Task[None] | None = None

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        await self._durable.revoke_token(token_id, expires_at)
        await self._copy.revoke_token(token_id, expires_at)

    async def revoke_session(self, session_id: UUID, expires_at: datetime) -> None:
        await self._durable.revoke_session(session_id, expires_at)
        await self._copy.revoke_session(session_id, expires_at)

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        await self._durable.revoke_user(
            user_id, issued_before, keep_token_id=keep_token_id, ttl_seconds=ttl_seconds
        )
        await self._copy.revoke_user(
            user_id, issued_before, keep_token_id=keep_token_id, ttl_seconds=ttl_seconds
        )

    async def is_revoked(self, claims: AccessClaims) -> bool:
        """Ask the copy once it is complete; the durable store while it is not."""
        if self._complete:
            return await self._copy.is_revoked(claims)
        return await self._durable.is_revoked(claims)

    @property
    def complete(self) -> bool:
        """Whether checks are answered from this process's copy."""
        return self._complete

    async def hear(self, event: DomainEvent) -> None:
        """Event-bus subscriber: copy a revocation made by any process (idempotent).

        A token's or a session's entry lasts one access-token lifetime from the event, which
        outlasts their tokens; a user-wide one revokes what was issued before the event's moment.
        """
        if not isinstance(event, AccessRevoked):
            return
        expires_at = event.occurred_at + timedelta(seconds=self._ttl)
        if event.token_id is not None:
            await self._copy.revoke_token(event.token_id, expires_at)
        elif event.session_id is not None:
            await self._copy.revoke_session(event.session_id, expires_at)
        else:
            await self._copy.revoke_user(
                event.user_id,
                event.occurred_at,
                keep_token_id=event.keep_token_id,
                ttl_seconds=self._ttl,
            )

    def link_down(self) -> None:
        """Revocations made elsewhere may be missed from now on: ask the durable store."""
        self._hearing = False
        self._losses += 1
        self._complete = False

    async def link_up(self, after_loss: bool) -> None:
        """Events flow again: (re)load the copy, in the background."""
        self._hearing = True
        if not self._complete:
            self._reload_in_background()

    async def start(self) -> None:
        """Start the periodic merge (the copy itself is loaded once events are heard)."""
        if self._resyncing is None:
            self._resyncing = asyncio.create_task(self._resync(), name="denylist-resync")

    async def close(self) -> None:
        """Stop the background work."""
        for task in (self._reloading, self._resyncing):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._reloading = self._resyncing = None

    async def reload(self) -> None:
        """Merge every live durable entry into the copy; it is complete afterwards if events
        were heard throughout. Raises DependencyUnavailable."""
        losses = self._losses
        await self._merge_durable()
        self._complete = self._hearing and self._losses == losses

    async def _merge_durable(self) -> None:
        now = self._clock.now()
        for entry in await self._durable.active():
            if entry.token_id is not None:
                await self._copy.revoke_token(entry.token_id, entry.expires_at)
            elif entry.session_id is not None:
                await self._copy.revoke_session(entry.session_id, entry.expires_at)
            elif entry.user_id is not None and entry.issued_before is not None:
                ttl = max(1, int((entry.expires_at - now).total_seconds()) + 1)
                await self._copy.revoke_user(
                    entry.user_id,
                    entry.issued_before,
                    keep_token_id=entry.keep_token_id,
                    ttl_seconds=ttl,
                )

    def _reload_in_background(self) -> None:
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self._reload_until_complete(), name="denylist")

    async def _reload_until_complete(self) -> None:
        failed = False
        while self._hearing and not self._complete:
            try:
                await self.reload()
            except DependencyUnavailable:
                if not failed:
                    log.warning("could not reload the denylist; checks use the database")
                failed = True
                await asyncio.sleep(RELOAD_RETRY_SECONDS)
        if failed:
            log.warning("denylist reloaded; checks use this process's copy again")

    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self._resync_seconds)
            with contextlib.suppress(DependencyUnavailable):  # the next round tries again
                await self._merge_durable()
