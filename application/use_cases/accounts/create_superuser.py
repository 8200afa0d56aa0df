"""Create a superuser, or promote the existing account with that email (idempotent)."""

from dataclasses import dataclass

from application.dto import UserView
from application.ports import Clock, PasswordHasher
from application.ports.types import UnitOfWorkFactory
from domain.ids import new_id
from domain.users import EmailAddress, Password, User


@dataclass(frozen=True, slots=True)
class CreateSuperuser:
    """Make sure a superuser with this email exists."""

    email: str
    password: str


class CreateSuperuserHandler:
    """A new account is created as an active superuser; an existing one is promoted and
    activated, keeping its password (so running it twice changes nothing the second time)."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, cmd: CreateSuperuser) -> UserView:
        email, password = EmailAddress(cmd.email), Password(cmd.password)
        hashed = await self._hasher.hash(password)  # before any connection is held
        async with self._uow() as uow:
            found = await uow.users.get_by_email(email)
            user = None if found is None else await uow.users.get_for_update(found.id)
            if user is None:
                now = self._clock.now()
                user = User.register(
                    user_id=new_id(now),
                    email=email,
                    hashed_password=hashed,
                    full_name=None,
                    now=now,
                )
                user.change_role(is_superuser=True, now=now)
                await uow.users.add(uow.track(user))
            else:
                now = self._clock.now()
                uow.track(user).change_role(is_superuser=True, now=now)
                user.activate(now=now)
                await uow.users.update(user)
            await uow.commit()
        return UserView.of(user)
