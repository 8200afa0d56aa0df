"""Opening a session: a refresh-token family link and an access token bound to it."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.ports import Clock, TokenService
from application.ports.unit_of_work import UnitOfWork
from application.secrets import new_opaque_token, token_hash
from domain.ids import new_id
from domain.sessions import RefreshToken


@dataclass(frozen=True, slots=True)
class TokensIssued:
    """What a successful grant hands the client (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    refresh_token: str


class SessionIssuer:
    """Mints tokens: a new family on sign-in, the next link of a family on refresh."""

    def __init__(self, tokens: TokenService, clock: Clock, refresh_ttl_seconds: int) -> None:
        self._tokens, self._clock, self._ttl = tokens, clock, refresh_ttl_seconds

    async def issue(
        self,
        uow: UnitOfWork,
        user_id: UUID,
        *,
        family_id: UUID | None = None,
        family_expires_at: datetime | None = None,
    ) -> TokensIssued:
        """Stage a refresh token (in a new family unless one is given); return both tokens."""
        now = self._clock.now()
        family = family_id or new_id(now)
        expires_at = family_expires_at or now + timedelta(seconds=self._ttl)
        secret = new_opaque_token()
        link = RefreshToken(new_id(now), user_id, family, token_hash(secret), now, expires_at)
        await uow.refresh_tokens.add(link)
        access = self._tokens.issue_access(user_id, now, session_id=family)
        return TokensIssued(access.token, access.expires_in, secret)
