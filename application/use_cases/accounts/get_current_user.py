"""Read the calling user's own account."""

from dataclasses import dataclass

from application.dto import Actor, UserView
from application.errors import InvalidToken
from application.ports.types import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class GetCurrentUser:
    """Who am I?"""

    actor: Actor


class GetCurrentUserHandler:
    """Returns the caller's account as it is stored now."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: GetCurrentUser) -> UserView:
        async with self._uow() as uow:
            user = await uow.users.get(cmd.actor.user_id)
        if user is None:
            raise InvalidToken("the token's user no longer exists")
        return UserView.of(user)
