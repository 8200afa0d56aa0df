"""A fast denylist (memory or Redis) mirrored from a durable one (the database).

Revocations are written to the database first, so none is lost to a restart or to an outage
of the fast store; checks ask the fast store, and the database only while the fast one is
unreachable. After an outage, the fast store is refilled from the database before it is
trusted again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import datetime
from uuid import UUID

from application.errors import DependencyUnavailable
from application.ports.clock import Clock
from application.ports.security import AccessClaims
from application.ports.sessions import DurableTokenDenylist, TokenDenylist

log = logging.getLogger(__name__)


class MirroredDenylist:
    """TokenDenylist over a durable store and a fast copy of it."""

    def __init__(self, durable: DurableTokenDenylist, fast: TokenDenylist, clock: Clock) -> None:
        self._durable, self._fast, self._clock = durable, fast, clock
        self._fast_is_complete = False  # until refilled from the durable store

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
        try:
            if not self._fast_is_complete:
                await self.refill()
            return await self._fast.is_revoked(claims)
        except DependencyUnavailable:
            self._fast_is_complete = False
            log.warning("fast denylist unavailable; checking the database")
            return await self._durable.is_revoked(claims)

    def link_down(self) -> None:
        """The fast store may lose entries (a restart) unseen: refill it before trusting it."""
        self._fast_is_complete = False

    async def link_up(self, after_loss: bool) -> None:
        """Refill now rather than on the next check."""
        await self.refill()

    async def refill(self) -> None:
        """Copy every live durable entry into the fast store (idempotent)."""
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
        self._fast_is_complete = True

    async def _mirror(self, write: Awaitable[None]) -> None:
        try:
            await write
        except DependencyUnavailable:
            self._fast_is_complete = False  # refilled from the database once it is back
            log.warning("fast denylist unavailable; the revocation is kept in the database")
