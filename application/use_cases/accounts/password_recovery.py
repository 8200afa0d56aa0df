"""Ask for a password-reset link by email."""

from dataclasses import dataclass
from datetime import timedelta

from application.ports import Clock, EmailMessage, RateLimit, RateLimiter
from application.ports.types import UnitOfWorkFactory
from application.secrets import new_opaque_token, token_hash
from application.use_cases.accounts.rate_limiting import enforce
from domain.errors import DomainError
from domain.ids import new_id
from domain.sessions import PasswordResetToken
from domain.users import EmailAddress


@dataclass(frozen=True, slots=True)
class RequestPasswordRecovery:
    """Mail a reset link to this address, if it is an active account's."""

    email: str
    client_address: str = "unknown"


@dataclass(frozen=True, slots=True)
class RecoveryRequested:
    """Mail to send (none when the address is unknown: the caller cannot tell)."""

    outbox: list[EmailMessage]


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """How long a reset link works, where it points, and how often it may be asked for."""

    ttl_seconds: int
    reset_url: str
    limit: RateLimit


class RequestPasswordRecoveryHandler:
    """Stores a single-use reset token (as a hash) and returns the mail carrying it.

    The answer is the same whether or not the address belongs to an account.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        limiter: RateLimiter,
        settings: RecoverySettings,
    ) -> None:
        self._uow, self._clock, self._limiter, self._settings = uow, clock, limiter, settings

    async def __call__(self, cmd: RequestPasswordRecovery) -> RecoveryRequested:
        await enforce(self._limiter, self._settings.limit, cmd.client_address)
        try:
            email = EmailAddress(cmd.email)
        except DomainError:
            return RecoveryRequested([])
        now, secret = self._clock.now(), new_opaque_token()
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
            if user is None or not user.is_active:
                return RecoveryRequested([])
            expires = now + timedelta(seconds=self._settings.ttl_seconds)
            await uow.reset_tokens.add(
                PasswordResetToken(new_id(now), user.id, token_hash(secret), expires)
            )
            await uow.commit()
        return RecoveryRequested([self._mail(email.value, secret)])

    def _mail(self, to: str, secret: str) -> EmailMessage:
        minutes = self._settings.ttl_seconds // 60
        body = (
            "Someone asked to reset the password of your Portico account.\n\n"
            f"Reset token: {secret}\nOr open: {self._settings.reset_url}?token={secret}\n\n"
            f"It works once, for {minutes} minutes. If you did not ask, ignore this mail.\n"
        )
        return EmailMessage(to, "Reset your Portico password", body)
