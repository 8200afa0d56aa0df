"""A superuser changes another account: name, activation, role."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, UserView
from application.ports import Clock
from application.ports.types import UnitOfWorkFactory
from application.services.revocation import SessionRevoker
from application.services.user_access import load_user_for, require_superuser


@dataclass(frozen=True, slots=True)
class AdministerUser:
    """Change what is given of this account's full name, activation and superuser role."""

    actor: Actor
    user_id: UUID
    full_name: str | None = None
    is_active: bool | None = None
    is_superuser: bool | None = None


class AdministerUserHandler:
    """Deactivating an account ends every one of its sessions at once."""

    def __init__(self, uow: UnitOfWorkFactory, revoker: SessionRevoker, clock: Clock) -> None:
        self._uow, self._revoker, self._clock = uow, revoker, clock

    async def __call__(self, cmd: AdministerUser) -> UserView:
        require_superuser(cmd.actor)
        async with self._uow() as uow:
            if cmd.is_active is False:  # revocations come before the row lock (see revoker)
                before = await load_user_for(uow, cmd.actor, cmd.user_id)
                if before.is_active:
                    await self._revoker.revoke_all(uow, before, keep=None)
            user = uow.track(await load_user_for(uow, cmd.actor, cmd.user_id, for_update=True))
            now = self._clock.now()
            user.change_profile(email=None, full_name=cmd.full_name)
            if cmd.is_superuser is not None:
                user.change_role(is_superuser=cmd.is_superuser, now=now)
            if cmd.is_active is True:
                user.activate(now=now)
            elif cmd.is_active is False:
                user.deactivate(now=now)
            await uow.users.update(user)
            await uow.commit()
        return UserView.of(user)
