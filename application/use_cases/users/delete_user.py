"""Delete an account with everything it owns."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.services.revocation import SessionRevoker
from application.services.user_access import load_user_for, require_superuser
from application.use_cases.attachments.of_items import delete_attachments_of


@dataclass(frozen=True, slots=True)
class DeleteUser:
    """Delete this account (my own, or any as a superuser); `user_id` None means my own."""

    actor: Actor
    user_id: UUID | None = None


BATCH = 200


class DeleteUserHandler:
    """Removes the user, their items (with their attachments) and sessions; their tokens stop
    working at once.

    Sessions are revoked first; items then go in batches, each deletion announced (so caches
    forget the item and subscribers hear of it, and a job removes each attachment's bytes)
    and each batch committed on its own, so a user with any number of items costs bounded
    memory; the account goes last. Should it stop half-way, the account is still there and
    deleting it again finishes the job.
    """

    def __init__(self, uow: UnitOfWorkFactory, revoker: SessionRevoker, clock: Clock) -> None:
        self._uow, self._revoker, self._clock = uow, revoker, clock

    async def __call__(self, cmd: DeleteUser) -> None:
        if cmd.user_id is not None:
            require_superuser(cmd.actor)
        user_id = cmd.user_id or cmd.actor.user_id
        async with self._uow() as uow:
            user = await load_user_for(uow, cmd.actor, user_id)
            await self._revoker.revoke_all(uow, user, keep=None)
            await uow.commit()
        while await self._delete_some_items(user.id):
            pass
        async with self._uow() as uow:
            await uow.users.delete(user)
            await uow.commit()

    async def _delete_some_items(self, owner_id: UUID) -> bool:
        """Delete (and announce) up to BATCH of the owner's items and their attachments; False
        when none were left."""
        now = self._clock.now()
        async with self._uow() as uow:
            batch = await uow.items.list_for_owner(owner_id, skip=0, limit=BATCH)
            await delete_attachments_of(uow, [item.id for item in batch], now)
            for item in batch:
                item.delete(now=now)
                await uow.items.delete(uow.track(item))
            await uow.commit()
        return bool(batch)
