"""Delete an account with everything it owns."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.use_cases.accounts.revocation import SessionRevoker
from application.use_cases.users.access import load_user_for, require_superuser


@dataclass(frozen=True, slots=True)
class DeleteUser:
    """Delete this account (my own, or any as a superuser); `user_id` None means my own."""

    actor: Actor
    user_id: UUID | None = None


class DeleteUserHandler:
    """Removes the user, their items and sessions; their tokens stop working at once."""

    def __init__(self, uow: UnitOfWorkFactory, revoker: SessionRevoker, clock: Clock) -> None:
        self._uow, self._revoker, self._clock = uow, revoker, clock

    async def __call__(self, cmd: DeleteUser) -> None:
        if cmd.user_id is not None:
            require_superuser(cmd.actor)
        async with self._uow() as uow:
            user = await load_user_for(uow, cmd.actor, cmd.user_id or cmd.actor.user_id)
            await self._revoker.revoke_all(uow, user.id, keep=None)
            now = self._clock.now()
            # Announce each item's deletion (the cascade would not), so that the item cache
            # forgets them and subscribers hear of it.
            async for item in uow.items.stream_for_owner(user.id):
                item.delete(now=now)
                uow.track(item)
            await uow.users.delete(user)
            await uow.commit()
