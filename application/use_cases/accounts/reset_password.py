"""Set a new password with a reset token."""

from dataclasses import dataclass

from application.errors import InvalidResetToken
from application.ports import Clock, PasswordHasher
from application.ports.types import UnitOfWorkFactory
from application.secrets import token_hash
from application.services.revocation import SessionRevoker
from domain.users import Password

BAD_RESET_TOKEN = "the reset token is invalid, expired or used"  # noqa: S105


@dataclass(frozen=True, slots=True)
class ResetPassword:
    """Use this reset token to set this password."""

    token: str
    new_password: str


class ResetPasswordHandler:
    """A usable token is consumed once; the password changes, every session of the user ends
    and every other reset token of the user stops working.

    The token is checked before bcrypt runs (no hashing for a guess) and consumed after it,
    in a unit of work that holds no connection while hashing.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        revoker: SessionRevoker,
        clock: Clock,
    ) -> None:
        self._uow, self._hasher, self._revoker, self._clock = uow, hasher, revoker, clock

    async def __call__(self, cmd: ResetPassword) -> None:
        new_password = Password(cmd.new_password)
        async with self._uow() as uow:
            reset = await uow.reset_tokens.get_by_hash(token_hash(cmd.token))
            owner = None if reset is None else await uow.users.get(reset.user_id)
        if reset is None or owner is None or not reset.is_usable(self._clock.now()):
            raise InvalidResetToken(BAD_RESET_TOKEN)
        hashed = await self._hasher.hash(new_password)
        async with self._uow() as uow:
            await self._revoker.revoke_all(uow, owner, keep=None)  # before any lock
            user = await uow.users.get_for_update(reset.user_id)
            now = self._clock.now()
            if user is None or not await uow.reset_tokens.consume(reset.id, now):
                raise InvalidResetToken(BAD_RESET_TOKEN)
            await uow.reset_tokens.revoke_for_user(user.id, now)
            user.change_password_hash(hashed)
            await uow.users.update(user)
            await uow.commit()
