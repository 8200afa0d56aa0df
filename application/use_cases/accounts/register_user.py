"""Register a new account."""

from dataclasses import dataclass

from application.dto import UserView
from application.errors import EmailAlreadyRegistered
from application.ports import Clock, PasswordHasher
from application.ports.types import UnitOfWorkFactory
from application.use_cases.accounts.rate_limiting import Throttle
from domain.ids import new_id
from domain.users import EmailAddress, Password, User


@dataclass(frozen=True, slots=True)
class RegisterUser:
    """Open an account with this email and password."""

    email: str
    password: str
    full_name: str | None = None
    client_address: str = "unknown"


class RegisterUserHandler:
    """Registers a user: the email must be free (in any case) and the password meet policy.

    The password is hashed before the unit of work opens, so no database connection waits
    on bcrypt; with a throttle, registrations per client address are limited first, since
    each one costs a bcrypt hash.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._hasher, self._clock, self._throttle = uow, hasher, clock, throttle

    async def __call__(self, cmd: RegisterUser) -> UserView:
        email, password = EmailAddress(cmd.email), Password(cmd.password)
        if self._throttle is not None:
            await self._throttle(cmd.client_address)
        hashed = await self._hasher.hash(password)
        now = self._clock.now()
        user = User.register(
            user_id=new_id(now), email=email, hashed_password=hashed, full_name=cmd.full_name,
            now=now,
        )  # fmt: skip
        async with self._uow() as uow:
            if await uow.users.get_by_email(email) is not None:
                raise EmailAlreadyRegistered("an account with this email already exists")
            await uow.users.add(user)
            await uow.commit()
        return UserView.of(user)
