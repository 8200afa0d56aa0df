"""EmailSender adapters: real SMTP, and the development default that only logs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib

from application.errors import DependencyUnavailable
from application.ports.notifications import EmailMessage

log = logging.getLogger("portico.mail")


class LoggingEmailSender:
    """Writes each message to the log instead of sending it (the embedded default).

    With `include_body` (development and tests) the body is logged too, so a developer can
    follow a reset link locally; otherwise only who and what, since a body may hold a secret
    such as a reset token. Use SMTP anywhere real people have accounts.
    """

    def __init__(self, *, include_body: bool = True) -> None:
        self._include_body = include_body

    async def send(self, message: EmailMessage) -> None:
        if self._include_body:
            log.info(
                "mail %s to %s: %s\n%s",
                message.message_id,
                message.to,
                message.subject,
                message.body,
            )
        else:
            log.info("mail to %s: %s (body withheld)", message.to, message.subject)


class SmtpEmailSender:
    """Sends through an SMTP server given as `smtp://user:pass@host:port` or `smtps://...`.

    `smtp://` upgrades with STARTTLS when the server offers it; `smtps://` is implicit TLS.
    A refusal is reported with the server's answer (`550 no such user`), so a failed mail job
    says why; a cancelled send closes the connection at once instead of waiting to say QUIT.
    """

    def __init__(self, url: str, *, sender: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self._sender, self._timeout = sender, timeout
        self._options: dict[str, object] = {
            "hostname": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "username": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "use_tls": parts.scheme == "smtps",
        }

    async def send(self, message: EmailMessage) -> None:
        mime = MimeMessage()
        mime["From"], mime["To"], mime["Subject"] = self._sender, message.to, message.subject
        mime["Message-ID"] = message.message_id or make_msgid()
        mime.set_content(message.body)
        client = aiosmtplib.SMTP(timeout=self._timeout, **self._options)  # type: ignore[arg-type]
        try:
            await client.connect()  # logs in too, when the URL carries credentials
            await client.send_message(mime)
        except asyncio.CancelledError:  # a worker stopping: drop the line, do not say QUIT
            client.close()
            raise
        except aiosmtplib.SMTPRecipientsRefused as exc:
            client.close()
            answers = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise DependencyUnavailable(
                f"the mail server refused the recipient: {answers}"
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise DependencyUnavailable(
                f"the mail server answered {exc.code} {exc.message}"
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise DependencyUnavailable(f"the mail server is unavailable ({exc})") from exc
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()
