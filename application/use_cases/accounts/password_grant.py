"""Sign in with email and password (the OAuth2 password grant)."""

from dataclasses import dataclass

from application.errors import InvalidGrant
from application.ports import Clock, PasswordHasher, TokenService
from application.ports.types import UnitOfWorkFactory
from domain.errors import DomainError
from domain.users import MAX_PASSWORD_BYTES, EmailAddress

BAD_CREDENTIALS = "incorrect email or password"


@dataclass(frozen=True, slots=True)
class PasswordGrant:
    """Exchange an email and password for tokens."""

    username: str
    password: str


@dataclass(frozen=True, slots=True)
class TokensIssued:
    """What a successful grant hands the client."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None


class PasswordGrantHandler:
    """Unknown email, wrong password, inactive account or over-long password: one answer.

    Every failing path spends a bcrypt verification, so timing does not tell them apart.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: TokenService, clock: Clock
    ) -> None:
        self._uow, self._hasher, self._tokens, self._clock = uow, hasher, tokens, clock

    async def __call__(self, cmd: PasswordGrant) -> TokensIssued:
        async with self._uow() as uow:
            user = None
            try:
                user = await uow.users.get_by_email(EmailAddress(cmd.username))
            except DomainError:
                pass  # not an email address at all: treated as an unknown account
            too_long = len(cmd.password.encode("utf-8")) > MAX_PASSWORD_BYTES
            if user is None or too_long:
                await self._hasher.dummy_verify(cmd.password)
                raise InvalidGrant(BAD_CREDENTIALS)
            if not await self._hasher.verify(cmd.password, user.hashed_password):
                raise InvalidGrant(BAD_CREDENTIALS)
            if not user.is_active:
                raise InvalidGrant(BAD_CREDENTIALS)
        issued = self._tokens.issue_access(user.id, self._clock.now())
        return TokensIssued(issued.token, issued.expires_in)
