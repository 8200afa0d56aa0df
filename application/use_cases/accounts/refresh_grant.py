"""Exchange a refresh token for new tokens, rotating it (RFC 9700 §4.14)."""

from dataclasses import dataclass

from application.errors import InvalidGrant
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.secrets import token_hash
from application.services.revocation import SessionRevoker
from application.services.sessions import SessionIssuer, TokensIssued

BAD_REFRESH_TOKEN = "refresh token is invalid, expired or revoked"  # noqa: S105


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """Trade this refresh token for a new pair."""

    refresh_token: str


class RefreshGrantHandler:
    """A live token is consumed and succeeded by the next link of its family.

    A token presented again after use is taken as stolen: its whole family is revoked, and
    with it every access token the family issued, so neither the thief nor the victim can go
    on with it. Of two concurrent uses exactly one consumes the token; the other is a reuse.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sessions: SessionIssuer,
        revoker: SessionRevoker,
        clock: Clock,
    ) -> None:
        self._uow, self._sessions, self._revoker, self._clock = uow, sessions, revoker, clock

    async def __call__(self, cmd: RefreshGrant) -> TokensIssued:
        now = self._clock.now()
        async with self._uow() as uow:
            link = await uow.refresh_tokens.get_by_hash(token_hash(cmd.refresh_token))
            if link is None or link.revoked_at is not None or now >= link.expires_at:
                raise InvalidGrant(BAD_REFRESH_TOKEN)
            user = await uow.users.get(link.user_id)
            consumed = await uow.refresh_tokens.consume(link.id, now)
            if consumed and user is not None and user.is_active:
                issued = await self._sessions.issue(
                    uow, user.id, family_id=link.family_id, family_expires_at=link.expires_at
                )
                await uow.commit()
                return issued
            await uow.refresh_tokens.revoke_family(link.family_id, now)
            await uow.commit()
        if user is not None:  # a deleted user's tokens stopped working with the account
            async with self._uow() as uow:  # the family's access tokens, once its lock is free
                await self._revoker.revoke_session(uow, user, link.family_id)
                await uow.commit()
        raise InvalidGrant(BAD_REFRESH_TOKEN)
