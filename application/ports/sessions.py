"""Session ports: refresh-token and reset-token stores, and the access-token denylist."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from application.ports.security import AccessClaims
from domain.sessions import PasswordResetToken, RefreshToken


class RefreshTokenRepository(Protocol):
    """Refresh tokens, found by hash; part of the unit of work's transaction."""

    async def add(self, token: RefreshToken) -> None:
        """Stage a new refresh token."""
        ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        """Return the token stored under that hash, or None."""
        ...

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        """Mark the token used if it is still unused and unrevoked.

        Returns True only for the one caller that consumed it, however many race for it.
        """
        ...

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        """Revoke every token of the family."""
        ...

    async def revoke_for_user(
        self, user_id: UUID, now: datetime, *, keep_family: UUID | None = None
    ) -> None:
        """Revoke every token of the user, except those of `keep_family` when given."""
        ...


class PasswordResetTokenRepository(Protocol):
    """Password-reset tokens, found by hash; part of the unit of work's transaction."""

    async def add(self, token: PasswordResetToken) -> None:
        """Stage a new reset token."""
        ...

    async def get_by_hash(self, token_hash: str) -> PasswordResetToken | None:
        """Return the token stored under that hash, or None."""
        ...

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        """Mark the token used if unused; True only for the one caller that did."""
        ...

    async def revoke_for_user(self, user_id: UUID, now: datetime) -> None:
        """Use up every unused token of the user (its password just changed)."""
        ...


class TokenDenylist(Protocol):
    """Access tokens revoked before they expire: by id, every token of one session (a refresh
    family, the tokens' `sid`), or all of a user's up to a moment.

    Entries live only until the tokens they concern would have expired anyway.
    """

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        """Revoke one access token until its expiry. Raises DependencyUnavailable."""
        ...

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        """Revoke every access token of the user issued before the moment, but one.

        Raises DependencyUnavailable.
        """
        ...

    async def revoke_session(self, session_id: UUID, expires_at: datetime) -> None:
        """Revoke every access token of the session until `expires_at` (when the last one
        issued so far expires). Raises DependencyUnavailable."""
        ...

    async def is_revoked(self, claims: AccessClaims) -> bool:
        """Return whether the token is revoked. Raises DependencyUnavailable."""
        ...


@dataclass(frozen=True, slots=True)
class Revocation:
    """One live denylist entry: a token (`token_id`), a session's tokens (`session_id`), or a
    user's tokens issued before `issued_before` but `keep_token_id`; it matters until
    `expires_at`."""

    expires_at: datetime
    token_id: str | None = None
    user_id: UUID | None = None
    issued_before: datetime | None = None
    keep_token_id: str | None = None
    session_id: UUID | None = None


class DurableTokenDenylist(TokenDenylist, Protocol):
    """A denylist that survives restarts and outages of the faster one, and can list itself."""

    async def active(self) -> list[Revocation]:
        """Return every entry that has not expired yet. Raises DependencyUnavailable."""
        ...
