"""Change one's own password, confirming the current one."""

from dataclasses import dataclass

from application.dto import Actor
from application.errors import InvalidToken, WrongPassword
from application.ports import Clock, PasswordHasher
from application.ports.types import UnitOfWorkFactory
from application.services.revocation import SessionRevoker
from application.services.throttle import Throttle
from domain.users import Password


@dataclass(frozen=True, slots=True)
class ChangePassword:
    """Replace my password."""

    actor: Actor
    current_password: str
    new_password: str


class ChangePasswordHandler:
    """Sets the new password; every other session of the user ends, the caller's goes on,
    and any reset link still out there stops working.

    bcrypt runs between two short units of work, never while one holds a connection; the
    write re-reads the account under a lock and refuses if its password changed meanwhile.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        revoker: SessionRevoker,
        clock: Clock,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._hasher, self._revoker, self._clock = uow, hasher, revoker, clock
        self._throttle = throttle

    async def __call__(self, cmd: ChangePassword) -> None:
        new_password = Password(cmd.new_password)
        if self._throttle is not None:  # a stolen token must not buy unlimited guesses
            await self._throttle(str(cmd.actor.user_id))
        async with self._uow() as uow:
            user = await uow.users.get(cmd.actor.user_id)
        if user is None:
            raise InvalidToken("the token's user no longer exists")
        if not await self._hasher.verify(cmd.current_password, user.hashed_password):
            raise WrongPassword("the current password is not correct")
        hashed = await self._hasher.hash(new_password)
        async with self._uow() as uow:
            await self._revoker.revoke_all(uow, user, keep=cmd.actor)  # before any lock
            current = await uow.users.get_for_update(user.id)
            if current is None or current.hashed_password != user.hashed_password:
                raise WrongPassword("the password was changed meanwhile; try again")
            current.change_password_hash(hashed)
            await uow.users.update(current)
            await uow.reset_tokens.revoke_for_user(user.id, self._clock.now())
            await uow.commit()
