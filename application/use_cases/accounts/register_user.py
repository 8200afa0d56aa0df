"""Register a new account."""

from dataclasses import dataclass

from application.dto import UserView
from application.errors import EmailAlreadyRegistered
from application.idempotency import ANONYMOUS, IdempotencyKey, Idempotent
from application.ports import Clock, PasswordHasher, UnitOfWork
from application.ports.types import UnitOfWorkFactory
from application.services.throttle import Throttle
from domain.ids import new_id
from domain.users import EmailAddress, Password, User


@dataclass(frozen=True, slots=True)
class RegisterUser:
    """Open an account with this email and password (once per idempotency key)."""

    email: str
    password: str
    full_name: str | None = None
    client_address: str = "unknown"
    idempotency_key: IdempotencyKey | None = None


class RegisterUserHandler:
    """Registers a user: the email must be free (in any case) and the password meet policy.

    The password is hashed before the unit of work opens, so no database connection waits
    on bcrypt; with a throttle, registrations per client address are limited first, since
    each one costs a bcrypt hash. A retry with the same idempotency key gets the first
    account again, without a second hash.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        clock: Clock,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._hasher, self._clock, self._throttle = uow, hasher, clock, throttle
        self._once = Idempotent(UserView, clock)

    async def __call__(self, cmd: RegisterUser) -> UserView:
        email, password = EmailAddress(cmd.email), Password(cmd.password)
        if self._throttle is not None:
            await self._throttle(cmd.client_address)
        if (first := await self._earlier(cmd.idempotency_key)) is not None:
            return first
        hashed = await self._hasher.hash(password)
        now = self._clock.now()
        user = User.register(
            user_id=new_id(now), email=email, hashed_password=hashed, full_name=cmd.full_name,
            now=now,
        )  # fmt: skip
        async with self._uow() as uow:
            view = await self._once(uow, ANONYMOUS, cmd.idempotency_key, lambda: _add(uow, user))
            await uow.commit()
        return view

    async def _earlier(self, key: IdempotencyKey | None) -> UserView | None:
        if key is None:
            return None
        async with self._uow() as uow:
            return await self._once.earlier(uow, ANONYMOUS, key)


async def _add(uow: UnitOfWork, user: User) -> UserView:
    if await uow.users.get_by_email(user.email) is not None:
        raise EmailAlreadyRegistered("an account with this email already exists")
    await uow.users.add(uow.track(user))
    return UserView.of(user)
