"""Change one's own password, confirming the current one."""

from dataclasses import dataclass

from application.dto import Actor
from application.errors import InvalidToken, WrongPassword
from application.ports import PasswordHasher
from application.ports.types import UnitOfWorkFactory
from application.use_cases.accounts.revocation import SessionRevoker
from domain.users import Password


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """Replace my password."""

    actor: Actor
    current_password: str
    new_password: str


class ChangePasswordHandler:
    """Sets the new password; every other session of the user ends, the caller's goes on."""

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, revoker: SessionRevoker
    ) -> None:
        self._uow, self._hasher, self._revoker = uow, hasher, revoker

    async def __call__(self, cmd: ChangePassword) -> None:
        new_password = Password(cmd.new_password)
        async with self._uow() as uow:
            user = await uow.users.get(cmd.actor.user_id)
            if user is None:
                raise InvalidToken("the token's user no longer exists")
            if not await self._hasher.verify(cmd.current_password, user.hashed_password):
                raise WrongPassword("the current password is not correct")
            user.change_password_hash(await self._hasher.hash(new_password))
            # Revoke before the first write: the denylist writes on a connection of its own,
            # which SQLite would make wait for this transaction's write lock.
            await self._revoker.revoke_all(uow, user.id, keep=cmd.actor)
            await uow.users.update(user)
            await uow.commit()
