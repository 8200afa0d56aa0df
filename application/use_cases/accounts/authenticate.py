"""Turn a bearer access token into the calling actor."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.errors import InvalidToken, TokenRevoked
from application.ports import Clock, TokenDenylist, TokenService
from application.ports.types import UnitOfWorkFactory
from application.services.known_users import KnownUsers


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Identify the caller from an access token."""

    access_token: str


class AuthenticateHandler:
    """A token identifies its caller only while it is valid, not revoked, and its user exists
    and is active. Every request pays for the signature and the denylist; the user's row is
    read at most once per user every few seconds (see KnownUsers)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        tokens: TokenService,
        denylist: TokenDenylist,
        clock: Clock,
        known: KnownUsers,
    ) -> None:
        self._uow, self._tokens, self._denylist, self._clock = uow, tokens, denylist, clock
        self._known = known

    async def __call__(self, cmd: Authenticate) -> Actor:
        now = self._clock.now()
        claims = self._tokens.verify_access(cmd.access_token, now)
        if await self._denylist.is_revoked(claims):
            raise TokenRevoked("the access token was revoked")
        is_superuser = await self._role(claims.user_id, now.timestamp())
        return Actor(
            claims.user_id, is_superuser, claims.token_id, claims.expires_at, claims.session_id
        )

    async def _role(self, user_id: UUID, moment: float) -> bool:
        known = self._known.role(user_id, moment)
        if known is not None:
            return known
        generation = self._known.generation(user_id)
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
        if user is None or not user.is_active:
            raise InvalidToken("the token's user does not exist or is inactive")
        self._known.remember(user_id, user.is_superuser, moment, generation)
        return user.is_superuser
