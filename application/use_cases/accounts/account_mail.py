"""The mail an account receives: welcome after registering, a reset link on request.

Both run as durable jobs (see `application.messagebus`): retried until the mail server takes
them, so each is idempotent, and a repeated delivery carries the same `Message-ID` (made from
the job's id), so a mail client can tell it is the same message.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from application.ports import Clock, EmailMessage, EmailSender
from application.ports.jobs import LeasedJob
from application.ports.types import UnitOfWorkFactory
from application.secrets import token_hash
from application.use_cases.accounts.password_recovery import RecoverySettings, SendPasswordRecovery
from domain.errors import DomainError
from domain.events import UserRegistered
from domain.sessions import PasswordResetToken
from domain.users import EmailAddress


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Where message ids are made (`<job-id@domain>`) and the key reset tokens derive from."""

    message_id_domain: str
    reset_token_key: bytes


class AccountMail:
    """Durable handlers that write to account holders."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        sender: EmailSender,
        recovery: RecoverySettings,
        settings: MailSettings,
    ) -> None:
        self._uow, self._clock, self._sender = uow, clock, sender
        self._recovery, self._settings = recovery, settings

    async def welcome(self, event: UserRegistered, job: LeasedJob) -> None:
        """Welcome a new account holder (after `UserRegistered`)."""
        name = event.full_name or event.email
        body = (
            f"Welcome to Portico, {name}.\n\n"
            "Your account is ready: sign in with this address and the password you chose.\n"
            "If you did not register, ignore this mail; nothing else will be sent.\n"
        )
        await self._sender.send(
            EmailMessage(event.email, "Welcome to Portico", body, self._message_id(job.id))
        )

    async def password_recovery(self, cmd: SendPasswordRecovery, job: LeasedJob) -> None:
        """Store a single-use reset token (as a hash) for an active account and mail it; an
        unknown, inactive or malformed address gets nothing.

        The token is derived from the job's id with a server key, so a retried job stores
        one token and sends the same link again, never a second valid token.
        """
        try:
            email = EmailAddress(cmd.email)
        except DomainError:
            return
        secret = self._reset_secret(job.id)
        now = self._clock.now()
        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
            if user is None or not user.is_active:
                return
            if await uow.reset_tokens.get_by_hash(token_hash(secret)) is None:
                expires = now + timedelta(seconds=self._recovery.ttl_seconds)
                await uow.reset_tokens.add(
                    PasswordResetToken(job.id, user.id, token_hash(secret), expires)
                )
                await uow.commit()
        await self._sender.send(self._recovery_mail(email.value, secret, job.id))

    def _recovery_mail(self, to: str, secret: str, job_id: UUID) -> EmailMessage:
        minutes = self._recovery.ttl_seconds // 60
        body = (
            "Someone asked to reset the password of your Portico account.\n\n"
            f"Reset token: {secret}\nOr open: {self._recovery.reset_url}?token={secret}\n\n"
            f"It works once, for {minutes} minutes. If you did not ask, ignore this mail.\n"
        )
        return EmailMessage(to, "Reset your Portico password", body, self._message_id(job_id))

    def _message_id(self, job_id: UUID) -> str:
        return f"<{job_id}@{self._settings.message_id_domain}>"

    def _reset_secret(self, job_id: UUID) -> str:
        digest = hmac.new(self._settings.reset_token_key, job_id.bytes, hashlib.sha256)
        return digest.hexdigest()
