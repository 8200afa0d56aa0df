"""Sessions: refresh-token families and single-use password-reset tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(eq=False)
class RefreshToken:
    """One link of a refresh-token family (RFC 9700 §4.14): usable once, then rotated.

    Only the token's hash is kept. Every link of a family shares the family's absolute
    `expires_at`: rotation never extends a session beyond its first sign-in's lifetime.
    """

    id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Unused, unrevoked and within the family's lifetime."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


@dataclass(eq=False)
class PasswordResetToken:
    """A single-use permission to set a new password, kept only as a hash."""

    id: UUID
    user_id: UUID
    token_hash: str
    expires_at: datetime
    used_at: datetime | None = None

    def is_usable(self, now: datetime) -> bool:
        """Not used yet and not expired."""
        return self.used_at is None and now < self.expires_at
