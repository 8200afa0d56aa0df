"""Ask for a password-reset link by email: accepted at once, looked up and mailed by a worker."""

from dataclasses import dataclass

from application.ports import RateLimit, RateLimiter
from application.ports.types import UnitOfWorkFactory
from application.services.throttle import enforce


@dataclass(frozen=True, slots=True)
class RequestPasswordRecovery:
    """Mail a reset link to this address, if it is an active account's."""

    email: str
    client_address: str = "unknown"


@dataclass(frozen=True, slots=True)
class SendPasswordRecovery:
    """The deferred half of a recovery request (a job): look the address up, mail the link."""

    email: str


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """How long a reset link works, where it points, and how often it may be asked for."""

    ttl_seconds: int
    reset_url: str
    limit: RateLimit


class RequestPasswordRecoveryHandler:
    """Accepts a request within the rate limit and leaves the rest to a worker.

    Nothing about the address is looked at here: the same job is written whether or not it
    belongs to an account, so the answer, and the time it takes, tell nothing. The worker
    (`AccountMail.password_recovery`) looks it up and mails the link.
    """

    def __init__(
        self, uow: UnitOfWorkFactory, limiter: RateLimiter, settings: RecoverySettings
    ) -> None:
        self._uow, self._limiter, self._settings = uow, limiter, settings

    async def __call__(self, cmd: RequestPasswordRecovery) -> None:
        await enforce(self._limiter, self._settings.limit, cmd.client_address)
        async with self._uow() as uow:
            uow.defer(SendPasswordRecovery(cmd.email))
            await uow.commit()
