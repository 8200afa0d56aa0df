"""Ending every session of a user at once (password reset or change, deactivation)."""

from datetime import timedelta
from uuid import UUID

from application.dto import Actor
from application.ports import Clock, TokenDenylist
from application.ports.unit_of_work import UnitOfWork
from domain.users import User


class SessionRevoker:
    """Revokes a user's refresh families (in the caller's transaction) and access tokens."""

    def __init__(self, denylist: TokenDenylist, clock: Clock, access_ttl_seconds: int) -> None:
        self._denylist, self._clock, self._ttl = denylist, clock, access_ttl_seconds

    async def revoke_all(self, uow: UnitOfWork, user: User, *, keep: Actor | None) -> None:
        """Revoke every session of the user but `keep`'s (the caller's own), if given.

        Call it before the unit of work's first write. The denylist entry is durable on its
        own, before the caller commits: should the commit fail, the user merely signs in
        again, whereas the reverse order could leave a revoked session working. (On SQLite a
        transaction that has already written would hold the write lock the denylist needs.)
        """
        now = self._clock.now()
        keep_token = None if keep is None else keep.token_id
        await self._denylist.revoke_user(
            user.id, now, keep_token_id=keep_token, ttl_seconds=self._ttl
        )
        keep_family = None if keep is None else keep.session_id
        await uow.refresh_tokens.revoke_for_user(user.id, now, keep_family=keep_family)
        uow.track(user).end_sessions(now=now, keep_token_id=keep_token)

    async def revoke_session(self, uow: UnitOfWork, user: User, session_id: UUID) -> None:
        """Revoke every access token of one session (a refresh family) at once, durably; the
        user records it, and it is announced when `uow` commits."""
        now = self._clock.now()
        await self._denylist.revoke_session(session_id, now + timedelta(seconds=self._ttl))
        uow.track(user).end_session(session_id, now=now)
