"""Sign in with email and password (the OAuth2 password grant)."""

from dataclasses import dataclass

from application.errors import InvalidGrant, Overloaded
from application.ports import PasswordHasher, RateLimit, RateLimiter
from application.ports.types import UnitOfWorkFactory
from application.ports.unit_of_work import UnitOfWork
from application.services.sessions import SessionIssuer, TokensIssued
from application.services.throttle import enforce
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
    """Sign-in attempts allowed, each limit in a moving window of its own.

    - `per_address`: every attempt from one client address.
    - `per_account`: attempts on one account from one client address since the last
      successful sign-in there. Guesses from elsewhere do not count against the owner's
      address, so they cannot lock the owner out.
    - `per_account_ceiling`: attempts on one account from every address together, not cleared
      by a success: what bounds a guesser with many addresses. Once an account is at it,
      `past_ceiling_per_address` applies instead of locking the account: each address gets
      one attempt in that window, so an owner who types the password right still signs in.
    - `priority_per_address`: an address's first attempts since its last success are hashed
      ahead of the others when hashing is saturated: a flood of failing attempts cannot crowd
      out a person who signs in.
    """

    per_address: RateLimit
    per_account: RateLimit
    per_account_ceiling: RateLimit
    past_ceiling_per_address: RateLimit
    priority_per_address: RateLimit


class PasswordGrantHandler:
    """Unknown email, wrong password, inactive account or over-long password: one answer.

    Every failing path spends one bcrypt verification, so timing does not tell them apart.
    A hash made at a lower cost than the configured one is re-made on a successful sign-in
    (later, if hashing is saturated now). `lower_priority_hasher` is the hasher for the
    attempts of an address past its priority share: one that gives way to the others.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        sessions: SessionIssuer,
        limiter: RateLimiter,
        limits: PasswordGrantLimits,
        lower_priority_hasher: PasswordHasher | None = None,
    ) -> None:
        self._uow, self._hasher, self._sessions = uow, hasher, sessions
        self._limiter, self._limits = limiter, limits
        self._lower_priority_hasher = lower_priority_hasher or hasher

    async def __call__(self, cmd: PasswordGrant) -> TokensIssued:
        account = cmd.username.strip().lower()
        from_address = f"{cmd.client_address}|{account}"  # no address holds a "|"
        await enforce(self._limiter, self._limits.per_address, cmd.client_address)
        await enforce(self._limiter, self._limits.per_account, from_address)
        await self._enforce_ceiling(account, from_address)
        hasher = await self._hasher_for(cmd.client_address)
        user = await self._verified_user(cmd, hasher)
        rehashed = await self._rehashed(user, cmd.password)
        async with self._uow() as uow:
            if rehashed is not None:
                await self._store_rehash(uow, user, rehashed)
            issued = await self._sessions.issue(uow, user.id)
            await uow.commit()
        for limit, key in (
            (self._limits.per_account, from_address),
            (self._limits.past_ceiling_per_address, from_address),
            (self._limits.priority_per_address, cmd.client_address),
        ):
            await self._limiter.reset(limit, key)
        return issued

    async def _enforce_ceiling(self, account: str, from_address: str) -> None:
        if await self._limiter.hit(self._limits.per_account_ceiling, account) is not None:
            await enforce(self._limiter, self._limits.past_ceiling_per_address, from_address)

    async def _hasher_for(self, client_address: str) -> PasswordHasher:
        beyond_priority = await self._limiter.hit(self._limits.priority_per_address, client_address)
        return self._hasher if beyond_priority is None else self._lower_priority_hasher

    async def _verified_user(self, cmd: PasswordGrant, hasher: PasswordHasher) -> User:
        """The account, read in a unit of work of its own and verified after it closes, so
        no database connection waits on bcrypt."""
        async with self._uow() as uow:
            try:
                user = await uow.users.get_by_email(EmailAddress(cmd.username))
            except DomainError:
                user = None  # not an email address at all: an unknown account
        if user is None or len(cmd.password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES:
            await hasher.dummy_verify(cmd.password)
            raise InvalidGrant(BAD_CREDENTIALS)
        if not await hasher.verify(cmd.password, user.hashed_password) or not user.is_active:
            raise InvalidGrant(BAD_CREDENTIALS)
        return user

    async def _rehashed(self, user: User, password: str) -> str | None:
        if not self._hasher.needs_rehash(user.hashed_password):
            return None
        try:
            return await self._hasher.hash(Password(password))
        except Overloaded:  # the sign-in stands; the hash is re-made at a quieter one
            return None

    @staticmethod
    async def _store_rehash(uow: UnitOfWork, user: User, rehashed: str) -> None:
        current = await uow.users.get_for_update(user.id)
        if current is not None and current.hashed_password == user.hashed_password:
            current.change_password_hash(rehashed)  # unless the password changed meanwhile
            await uow.users.update(current)
