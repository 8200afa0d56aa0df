"""Change one's own email and/or full name."""

from dataclasses import dataclass

from application.dto import Actor, UserView
from application.errors import EmailAlreadyRegistered
from application.ports.types import UnitOfWorkFactory
from application.services.user_access import load_user_for
from domain.users import EmailAddress


@dataclass(frozen=True, slots=True)
class UpdateProfile:
    """Change what is given of my email and full name."""

    actor: Actor
    email: str | None = None
    full_name: str | None = None


class UpdateProfileHandler:
    """A new email must be free in any case (409 otherwise)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, cmd: UpdateProfile) -> UserView:
        email = None if cmd.email is None else EmailAddress(cmd.email)
        async with self._uow() as uow:
            user = await load_user_for(uow, cmd.actor, cmd.actor.user_id, for_update=True)
            if email is not None and email != user.email:
                holder = await uow.users.get_by_email(email)
                if holder is not None:
                    raise EmailAlreadyRegistered("an account with this email already exists")
            user.change_profile(email=email, full_name=cmd.full_name)
            await uow.users.update(user)
            await uow.commit()
        return UserView.of(user)
