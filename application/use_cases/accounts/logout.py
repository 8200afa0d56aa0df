"""Sign out: the presented access token and the session's refresh family stop working at once."""

from dataclasses import dataclass

from application.dto import Actor
from application.ports import Clock, TokenDenylist
from application.ports.types import UnitOfWorkFactory
from application.secrets import token_hash


@dataclass(frozen=True, slots=True)
class Logout:
    """End my session; `refresh_token`, when given, names the family to end as well."""

    actor: Actor
    refresh_token: str | None = None


class LogoutHandler:
    """Denylists the access token until its expiry and revokes the session's refresh family
    (the token's own, and the one the given refresh token belongs to, if it is the caller's)."""

    def __init__(self, uow: UnitOfWorkFactory, denylist: TokenDenylist, clock: Clock) -> None:
        self._uow, self._denylist, self._clock = uow, denylist, clock

    async def __call__(self, cmd: Logout) -> None:
        now, actor = self._clock.now(), cmd.actor
        if actor.token_expires_at is not None:
            await self._denylist.revoke_token(actor.token_id, actor.token_expires_at)
        async with self._uow() as uow:
            families = set() if actor.session_id is None else {actor.session_id}
            if cmd.refresh_token:
                link = await uow.refresh_tokens.get_by_hash(token_hash(cmd.refresh_token))
                if link is not None and link.user_id == actor.user_id:
                    families.add(link.family_id)
            for family in families:
                await uow.refresh_tokens.revoke_family(family, now)
            user = await uow.users.get(actor.user_id)
            if user is not None:  # a deleted user's tokens stopped working with the account
                uow.track(user).sign_out(actor.token_id, now=now)
            await uow.commit()
