"""Set a new password with a reset token."""

from dataclasses import dataclass

from application.errors import InvalidResetToken
from application.ports import Clock, PasswordHasher
from application.ports.types import UnitOfWorkFactory
from application.secrets import token_hash
from application.use_cases.accounts.revocation import SessionRevoker
from domain.users import Password


@dataclass(frozen=True, slots=True)
class ResetPassword:
    """Use this reset token to set this password."""

    token: str
    new_password: str


class ResetPasswordHandler:
    """A usable token is consumed once; the password changes and every session ends."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        revoker: SessionRevoker,
        clock: Clock,
    ) -> None:
        self._uow, self._hasher, self._revoker, self._clock = uow, hasher, revoker, clock

    async def __call__(self, cmd: ResetPassword) -> None:
        new_password, now = Password(cmd.new_password), self._clock.now()
        async with self._uow() as uow:
            reset = await uow.reset_tokens.get_by_hash(token_hash(cmd.token))
            user = None if reset is None else await uow.users.get(reset.user_id)
            if reset is None or user is None or not reset.is_usable(now):
                raise InvalidResetToken("the reset token is invalid, expired or used")
            user.change_password_hash(await self._hasher.hash(new_password))
            # Revoke before the first write: the denylist writes on a connection of its own,
            # which SQLite would make wait for this transaction's write lock.
            await self._revoker.revoke_all(uow, user.id, keep=None)
            if not await uow.reset_tokens.consume(reset.id, now):
                raise InvalidResetToken("the reset token is invalid, expired or used")
            await uow.users.update(user)
            await uow.commit()
