"""The mail adapters: SMTP against a real local server (aiosmtpd), and the logging default."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from adapters.smtp.senders import LoggingEmailSender, SmtpEmailSender
from application.errors import DependencyUnavailable
from application.ports.notifications import EmailMessage
from tests.integration.servers import free_port

SENDER = "Portico <no-reply@portico.invalid>"
RESET = EmailMessage(
    to="ada@example.com",
    subject="Réinitialisez votre mot de passe",
    body="Follow https://portico.example/reset-password?token=abc123 within 30 minutes.\n",
)


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives, and the credentials it was shown."""

    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((data.login, data.password))
        return AuthResult(success=True)

    def message(self, index: int = 0) -> ParsedMessage:
        raw = self.envelopes[index].original_content
        parsed: ParsedMessage = email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[assignment]
        return parsed


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
def smtp_port(inbox: Inbox) -> Iterator[int]:
    """A local SMTP server (AUTH allowed without TLS, as on a private relay) collecting mail."""
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_a_message_sent_over_smtp_arrives_with_its_sender_recipient_subject_and_body(
    inbox: Inbox, smtp_port: int
) -> None:
    await SmtpEmailSender(f"smtp://127.0.0.1:{smtp_port}", sender=SENDER).send(RESET)

    [envelope] = inbox.envelopes
    assert envelope.mail_from == "no-reply@portico.invalid"
    assert envelope.rcpt_tos == ["ada@example.com"]
    message = inbox.message()
    assert message["From"] == SENDER
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Réinitialisez votre mot de passe"
    assert message.get_content().replace("\r\n", "\n") == RESET.body  # CRLF on the wire
    assert inbox.logins == []  # no credentials in the URL: no AUTH


async def test_credentials_in_the_smtp_url_log_in_percent_decoded(
    inbox: Inbox, smtp_port: int
) -> None:
    url = f"smtp://mailer:p%40ss%3Aw%2Frd@127.0.0.1:{smtp_port}"
    await SmtpEmailSender(url, sender=SENDER).send(RESET)

    assert inbox.logins == [(b"mailer", b"p@ss:w/rd")]
    assert len(inbox.envelopes) == 1


async def test_an_unreachable_mail_server_raises_dependency_unavailable() -> None:
    sender = SmtpEmailSender(f"smtp://127.0.0.1:{free_port()}", sender=SENDER, timeout=2)

    with pytest.raises(DependencyUnavailable) as raised:
        await sender.send(RESET)
    assert raised.value.__cause__ is not None  # raised from the driver's error, not instead


async def test_the_logging_sender_writes_the_whole_message_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="portico.mail"):
        await LoggingEmailSender().send(RESET)

    [record] = [r for r in caplog.records if r.name == "portico.mail"]
    logged = record.getMessage()
    assert "ada@example.com" in logged
    assert RESET.subject in logged
    assert "https://portico.example/reset-password?token=abc123" in logged


async def test_the_logging_sender_withholds_the_body_where_it_may_not_show_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="portico.mail"):
        await LoggingEmailSender(include_body=False).send(RESET)

    [record] = [r for r in caplog.records if r.name == "portico.mail"]
    logged = record.getMessage()
    assert RESET.subject in logged
    assert "token=abc123" not in logged
