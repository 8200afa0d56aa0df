"""A fast denylist (memory or Redis) mirrored from a durable one (the database).

Revocations are written to the database first, so none is lost to a restart or to an outage
of the fast store; checks ask the fast store, and the database only while the fast one is
unreachable. After an outage, the fast store is refilled from the database before it is
trusted again: by one refill at a time, while checks meanwhile ask the database; and after
the fast store fails, checks ask the database without trying it for `RETRY_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from uuid import UUID

from application.errors import DependencyUnavailable
from application.ports.clock import Clock
from application.ports.security import AccessClaims
from application.ports.sessions import DurableTokenDenylist, TokenDenylist

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
"""How long checks leave a failed fast store alone before trying it (a refill) again."""


class MirroredDenylist:
    """TokenDenylist over a durable store and a fast copy of it."""

    def __init__(self, durable: DurableTokenDenylist, fast: TokenDenylist, clock: Clock) -> None:
        self._durable, self._fast, self._clock = durable, fast, clock
        self._fast_is_complete = False  # until refilled from the durable store
        self._losses = 0  # times the fast store may have lost entries; a refill spans none
        self._refilling = asyncio.Lock()
        self._retry_at: datetime | None = None  # no fast attempt by checks before then

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        await self._durable.revoke_token(token_id, expires_at)
        await self._mirror(self._fast.revoke_token(token_id, expires_at))

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        await self._durable.revoke_user(
            user_id, issued_before, keep_token_id=keep_token_id, ttl_seconds=ttl_seconds
        )
        await self._mirror(
            self._fast.revoke_user(
                user_id, issued_before, keep_token_id=keep_token_id, ttl_seconds=ttl_seconds
            )
        )

    async def is_revoked(self, claims: AccessClaims) -> bool:
        """Ask the fast store once it is complete; the durable one while it is not."""
        if self._fast_is_complete or await self._try_refill():
            try:
                return await self._fast.is_revoked(claims)
            except DependencyUnavailable:
                self._fast_failed("checking the database")
        return await self._durable.is_revoked(claims)

    def link_down(self) -> None:
        """The fast store may lose entries (a restart) unseen: refill it before trusting it."""
        self._losses += 1
        self._fast_is_complete = False

    async def link_up(self, after_loss: bool) -> None:
        """The fast store is reachable again: refill now rather than on the next check."""
        self._retry_at = None
        await self.refill()

    async def refill(self) -> None:
        """Copy every live durable entry into the fast store (idempotent), one refill at a time.

        The fast store is complete afterwards unless it may have lost entries meanwhile.
        Raises DependencyUnavailable.
        """
        async with self._refilling:
            losses = self._losses
            await self._copy_all()
            self._fast_is_complete = self._losses == losses

    async def _copy_all(self) -> None:
        now = self._clock.now()
        for entry in await self._durable.active():
            if entry.token_id is not None:
                await self._fast.revoke_token(entry.token_id, entry.expires_at)
            elif entry.user_id is not None and entry.issued_before is not None:
                ttl = max(1, int((entry.expires_at - now).total_seconds()) + 1)
                await self._fast.revoke_user(
                    entry.user_id,
                    entry.issued_before,
                    keep_token_id=entry.keep_token_id,
                    ttl_seconds=ttl,
                )

    async def _try_refill(self) -> bool:
        """Refill for a check, unless one is under way or the fast store failed just now.

        Returns whether the fast store is complete (and so may be asked).
        """
        if self._refilling.locked() or self._resting():
            return False
        try:
            await self.refill()
        except DependencyUnavailable:  # (or the database is: then so is the check)
            self._fast_failed("checking the database")
            return False
        return self._fast_is_complete

    def _resting(self) -> bool:
        return self._retry_at is not None and self._clock.now() < self._retry_at

    def _fast_failed(self, consequence: str) -> None:
        self._losses += 1
        self._fast_is_complete = False  # refilled from the database once it is back
        self._retry_at = self._clock.now() + timedelta(seconds=RETRY_SECONDS)
        log.warning("fast denylist unavailable; %s", consequence)

    async def _mirror(self, write: Awaitable[None]) -> None:
        try:
            await write
        except DependencyUnavailable:
            self._fast_failed("the revocation is kept in the database")
