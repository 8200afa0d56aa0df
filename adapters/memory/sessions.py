"""In-memory session stores: refresh and reset tokens (per transaction), and the denylist."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from adapters.memory.repositories import _Staged
from application.ports.clock import Clock
from application.ports.security import AccessClaims
from domain.sessions import PasswordResetToken, RefreshToken


class InMemoryRefreshTokenRepository:
    """RefreshTokenRepository over a dict."""

    def __init__(self, tokens: _Staged[RefreshToken]) -> None:
        self._tokens = tokens

    async def add(self, token: RefreshToken) -> None:
        self._tokens.put(token)

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self._tokens.rows() if t.token_hash == token_hash), None)

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.used_at is not None or token.revoked_at is not None:
            return False
        token.used_at = now
        self._tokens.put(token)
        return True

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        self._revoke(lambda t: t.family_id == family_id, now)

    async def revoke_for_user(
        self, user_id: UUID, now: datetime, *, keep_family: UUID | None = None
    ) -> None:
        self._revoke(lambda t: t.user_id == user_id and t.family_id != keep_family, now)

    def _revoke(self, which: object, now: datetime) -> None:
        for token in self._tokens.rows():
            if which(token) and token.revoked_at is None:  # type: ignore[operator]
                token.revoked_at = now
                self._tokens.put(token)


class InMemoryPasswordResetTokenRepository:
    """PasswordResetTokenRepository over a dict."""

    def __init__(self, tokens: _Staged[PasswordResetToken]) -> None:
        self._tokens = tokens

    async def add(self, token: PasswordResetToken) -> None:
        self._tokens.put(token)

    async def get_by_hash(self, token_hash: str) -> PasswordResetToken | None:
        return next((t for t in self._tokens.rows() if t.token_hash == token_hash), None)

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        token = self._tokens.get(token_id)
        if token is None or token.used_at is not None:
            return False
        token.used_at = now
        self._tokens.put(token)
        return True

    async def revoke_for_user(self, user_id: UUID, now: datetime) -> None:
        for token in self._tokens.rows():
            if token.user_id == user_id and token.used_at is None:
                token.used_at = now
                self._tokens.put(token)


_FIRST_SWEEP_SIZE = 1024


class InMemoryTokenDenylist:
    """TokenDenylist in a dict, for one process; entries are dropped once they expire.

    Expired entries are swept when the store has doubled since the last sweep, so loading
    many entries at once costs linear time, not quadratic.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._tokens: dict[str, float] = {}
        self._users: dict[UUID, tuple[float, str | None, float]] = {}
        self._sessions: dict[UUID, float] = {}
        self._sweep_at_size = _FIRST_SWEEP_SIZE

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        self._purge()
        self._tokens[token_id] = expires_at.timestamp()

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        """Merge monotonically: an older moment never replaces a newer one (nor its kept token);
        the expiry only ever grows."""
        self._purge()
        moment, until = issued_before.timestamp(), self._clock.now().timestamp() + ttl_seconds
        stored = self._users.get(user_id)
        if stored is not None:
            until = max(until, stored[2])
            if stored[0] > moment:
                moment, keep_token_id = stored[0], stored[1]
        self._users[user_id] = (moment, keep_token_id, until)

    async def revoke_session(self, session_id: UUID, expires_at: datetime) -> None:
        self._purge()
        until = expires_at.timestamp()
        self._sessions[session_id] = max(until, self._sessions.get(session_id, until))

    async def is_revoked(self, claims: AccessClaims) -> bool:
        if claims.token_id in self._tokens:
            return True
        if claims.session_id is not None and claims.session_id in self._sessions:
            return True
        mark = self._users.get(claims.user_id)
        if mark is None or claims.token_id == mark[1]:
            return False
        return claims.issued_at.timestamp() < mark[0]

    def __len__(self) -> int:
        return len(self._tokens) + len(self._users) + len(self._sessions)

    def _purge(self) -> None:
        if len(self) < self._sweep_at_size:
            return
        now = self._clock.now().timestamp()
        self._tokens = {k: v for k, v in self._tokens.items() if v > now}
        self._users = {k: v for k, v in self._users.items() if v[2] > now}
        self._sessions = {k: v for k, v in self._sessions.items() if v > now}
        self._sweep_at_size = max(_FIRST_SWEEP_SIZE, 2 * len(self))
