"""Outgoing mail."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A plain-text email to one recipient; `message_id` (`<id@domain>`) is kept across
    retries so that a repeated delivery is recognisable (the sender makes one if None)."""

    to: str
    subject: str
    body: str
    message_id: str | None = None


class EmailSender(Protocol):
    """Delivers email."""

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system. Raises DependencyUnavailable when it is down."""
        ...
