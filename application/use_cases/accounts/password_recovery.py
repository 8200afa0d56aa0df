"""Ask for a password-reset link by email: accepted at once, prepared and mailed later."""

from dataclasses import dataclass
from datetime import timedelta

from application.ports import Clock, EmailMessage, EmailSender, RateLimit, RateLimiter
from application.ports.types import UnitOfWorkFactory
from application.secrets import new_opaque_token, token_hash
from application.services.throttle import enforce
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
class SendPasswordRecovery:
    """The deferred half of a recovery request: look the address up and mail the link."""

    email: str


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """How long a reset link works, where it points, and how often it may be asked for."""

    ttl_seconds: int
    reset_url: str
    limit: RateLimit


class RequestPasswordRecoveryHandler:
    """Accepts a request within the rate limit and returns the work to do after answering.

    Nothing about the address is looked at here, so the answer, and the time it takes, are
    the same whether or not it belongs to an account.
    """

    def __init__(self, limiter: RateLimiter, settings: RecoverySettings) -> None:
        self._limiter, self._settings = limiter, settings

    async def __call__(self, cmd: RequestPasswordRecovery) -> SendPasswordRecovery:
        await enforce(self._limiter, self._settings.limit, cmd.client_address)
        return SendPasswordRecovery(cmd.email)


class SendPasswordRecoveryHandler:
    """Stores a single-use reset token (as a hash) for an active account and mails it;
    an unknown, inactive or malformed address gets nothing."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        sender: EmailSender,
        settings: RecoverySettings,
    ) -> None:
        self._uow, self._clock, self._sender, self._settings = uow, clock, sender, settings

    async def __call__(self, job: SendPasswordRecovery) -> None:
        try:
            email = EmailAddress(job.email)
        except DomainError:
            return
        now, secret = self._clock.now(), new_opaque_token()
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
            if user is None or not user.is_active:
                return
            expires = now + timedelta(seconds=self._settings.ttl_seconds)
            await uow.reset_tokens.add(
                PasswordResetToken(new_id(now), user.id, token_hash(secret), expires)
            )
            await uow.commit()
        await self._sender.send(self._mail(email.value, secret))

    def _mail(self, to: str, secret: str) -> EmailMessage:
        minutes = self._settings.ttl_seconds // 60
        body = (
            "Someone asked to reset the password of your Portico account.\n\n"
            f"Reset token: {secret}\nOr open: {self._settings.reset_url}?token={secret}\n\n"
            f"It works once, for {minutes} minutes. If you did not ask, ignore this mail.\n"
        )
        return EmailMessage(to, "Reset your Portico password", body)
