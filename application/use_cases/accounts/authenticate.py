"""Turn a bearer access token into the calling actor."""

from dataclasses import dataclass

from application.dto import Actor
from application.errors import InvalidToken, TokenRevoked
from application.ports import Clock, TokenDenylist, TokenService
from application.ports.types import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class Authenticate:
    """Identify the caller from an access token."""

    access_token: str


class AuthenticateHandler:
    """A token identifies its caller only while it is valid, not revoked, and its user exists
    and is active."""

    def __init__(
        self, uow: UnitOfWorkFactory, tokens: TokenService, denylist: TokenDenylist, clock: Clock
    ) -> None:
        self._uow, self._tokens, self._denylist, self._clock = uow, tokens, denylist, clock

    async def __call__(self, cmd: Authenticate) -> Actor:
        claims = self._tokens.verify_access(cmd.access_token, self._clock.now())
        if await self._denylist.is_revoked(claims):
            raise TokenRevoked("the access token was revoked")
        async with self._uow() as uow:
            user = await uow.users.get(claims.user_id)
        if user is None or not user.is_active:
            raise InvalidToken("the token's user does not exist or is inactive")
        return Actor(
            user.id, user.is_superuser, claims.token_id, claims.expires_at, claims.session_id
        )
