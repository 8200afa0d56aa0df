"""Sign in with email and password (the OAuth2 password grant)."""

from dataclasses import dataclass

from application.errors import InvalidGrant
from application.ports import PasswordHasher, RateLimit, RateLimiter
from application.ports.types import UnitOfWorkFactory
from application.ports.unit_of_work import UnitOfWork
from application.use_cases.accounts.rate_limiting import enforce
from application.use_cases.accounts.sessions import SessionIssuer, TokensIssued
from domain.errors import DomainError
from domain.users import MAX_PASSWORD_BYTES, EmailAddress, Password, User

BAD_CREDENTIALS = "incorrect email or password"


@dataclass(frozen=True, slots=True)
class PasswordGrant:
    """Exchange an email and password for tokens; `client_address` keys the rate limit."""

    username: str
    password: str
    client_address: str = "unknown"


@dataclass(frozen=True, slots=True)
class PasswordGrantLimits:
    """Sign-in attempts allowed per client address and per account."""

    per_address: RateLimit
    per_account: RateLimit


class PasswordGrantHandler:
    """Unknown email, wrong password, inactive account or over-long password: one answer.

    Every failing path spends one bcrypt verification, so timing does not tell them apart.
    A hash made at a lower cost than the configured one is re-made on a successful sign-in.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        sessions: SessionIssuer,
        limiter: RateLimiter,
        limits: PasswordGrantLimits,
    ) -> None:
        self._uow, self._hasher, self._sessions = uow, hasher, sessions
        self._limiter, self._limits = limiter, limits

    async def __call__(self, cmd: PasswordGrant) -> TokensIssued:
        account = cmd.username.strip().lower()
        await enforce(self._limiter, self._limits.per_address, cmd.client_address)
        await enforce(self._limiter, self._limits.per_account, account)
        user = await self._verified_user(cmd)
        rehashed = None
        if self._hasher.needs_rehash(user.hashed_password):
            rehashed = await self._hasher.hash(Password(cmd.password))
        async with self._uow() as uow:
            if rehashed is not None:
                await self._store_rehash(uow, user, rehashed)
            issued = await self._sessions.issue(uow, user.id)
            await uow.commit()
        await self._limiter.reset(self._limits.per_account, account)
        return issued

    async def _verified_user(self, cmd: PasswordGrant) -> User:
        """The account, read in a unit of work of its own and verified after it closes, so
        no database connection waits on bcrypt."""
        async with self._uow() as uow:
            try:
                user = await uow.users.get_by_email(EmailAddress(cmd.username))
            except DomainError:
                user = None  # not an email address at all: an unknown account
        if user is None or len(cmd.password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            await self._hasher.dummy_verify(cmd.password)
            raise InvalidGrant(BAD_CREDENTIALS)
        if not await self._hasher.verify(cmd.password, user.hashed_password) or not user.is_active:
            raise InvalidGrant(BAD_CREDENTIALS)
        return user

    @staticmethod
    async def _store_rehash(uow: UnitOfWork, user: User, rehashed: str) -> None:
        current = await uow.users.get_for_update(user.id)
        if current is not None and current.hashed_password == user.hashed_password:
            current.change_password_hash(rehashed)  # unless the password changed meanwhile
            await uow.users.update(current)
