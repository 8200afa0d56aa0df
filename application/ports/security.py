"""Security ports: password hashing and access tokens."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.users import Password


class PasswordHasher(Protocol):
    """One-way password hashing whose cost can rise over time."""

    async def hash(self, password: Password) -> str:
        """Return a salted hash of the password (never blocks the event loop)."""
        ...

    async def verify(self, password: str, hashed: str) -> bool:
        """Return whether the password matches the hash; False for any malformed input."""
        ...

    async def dummy_verify(self, password: str) -> None:
        """Spend the time a verify would, so an unknown account cannot be told by timing."""
        ...

    def needs_rehash(self, hashed: str) -> bool:
        """Return whether the hash was made at a lower cost than the one configured now."""
        ...


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly signed access token and what the client needs to know about it."""

    token: str
    token_id: str
    expires_at: datetime
    expires_in: int


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """The verified content of an access token."""

    user_id: UUID
    token_id: str
    issued_at: datetime
    expires_at: datetime
    session_id: UUID | None = None


class TokenService(Protocol):
    """Signs and verifies short-lived access tokens."""

    def issue_access(
        self, user_id: UUID, now: datetime, session_id: UUID | None = None
    ) -> IssuedToken:
        """Return a signed access token for the user, valid from `now`.

        `session_id` names the refresh-token family the token was obtained with, so that
        the session can be told apart from the user's others (e.g. on a password change).
        """
        ...

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        """Return the claims of a valid access token.

        Raises TokenExpired when it has expired, InvalidToken for anything else wrong
        (signature, algorithm, issuer, audience, type, missing claims, not yet valid).
        """
        ...
