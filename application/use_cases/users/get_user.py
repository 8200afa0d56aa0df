"""Read one account."""

from dataclasses import dataclass
from uuid import UUID

from application.dto import Actor, UserView
from application.ports.types import UnitOfWorkFactory
from application.services.user_access import load_user_for


@dataclass(frozen=True, slots=True)
class GetUser:
    """Show this account (my own, or any as a superuser)."""

    actor: Actor
    user_id: UUID


class GetUserHandler:
    """Anyone else's account is not found, exactly as a missing one."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: GetUser) -> UserView:
        async with self._uow() as uow:
            return UserView.of(await load_user_for(uow, cmd.actor, cmd.user_id))
