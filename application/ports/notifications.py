"""Outgoing mail."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A plain-text email to one recipient."""

    to: str
    subject: str
    body: str


class EmailSender(Protocol):
    """Delivers email."""

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mail system. Raises DependencyUnavailable when it is down."""
        ...
