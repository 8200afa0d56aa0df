"""Domain events: facts recorded by the aggregates (items, users, attachments), handed on
after commit.

Who reacts to each one is written down in one place: `application.messagebus`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    """The state of an item at the moment an event happened."""

    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ItemEvent:
    """Something happened to an item; `item` is its state just after (or before, for deletes)."""

    item: ItemSnapshot
    occurred_at: datetime

    @property
    def name(self) -> str:
        """The event's wire name, e.g. ``item.created``."""
        return _NAMES[type(self)]


@dataclass(frozen=True, slots=True)
class ItemCreated(ItemEvent):
    """An item was created."""


@dataclass(frozen=True, slots=True)
class ItemUpdated(ItemEvent):
    """An item's title or description changed; its version went up by one."""


@dataclass(frozen=True, slots=True)
class ItemDeleted(ItemEvent):
    """An item was deleted."""


_NAMES: dict[type[ItemEvent], str] = {
    ItemCreated: "item.created",
    ItemUpdated: "item.updated",
    ItemDeleted: "item.deleted",
}


@dataclass(frozen=True, slots=True)
class AccessRevoked:
    """A user's access stopped: one token (`token_id`), every token of one session
    (`session_id`), or every token issued before `occurred_at` but `keep_token_id`.

    Live connections holding a revoked token are closed when they hear of it.
    """

    user_id: UUID
    occurred_at: datetime
    token_id: str | None = None
    keep_token_id: str | None = None
    session_id: UUID | None = None

    @property
    def name(self) -> str:
        """The event's wire name."""
        return "access.revoked"

    def revokes(self, user_id: UUID, token_id: str, session_id: UUID | None = None) -> bool:
        """Whether a connection of `user_id` holding `token_id` of `session_id` must close."""
        if user_id != self.user_id:
            return False
        if self.token_id is not None:
            return token_id == self.token_id
        if self.session_id is not None:
            return session_id == self.session_id
        return token_id != self.keep_token_id


@dataclass(frozen=True, slots=True)
class UserChanged:
    """A user's role or activation changed: whatever was derived from the old state is stale."""

    user_id: UUID
    occurred_at: datetime

    @property
    def name(self) -> str:
        """The event's wire name."""
        return "user.changed"


@dataclass(frozen=True, slots=True)
class UserRegistered:
    """An account was opened (its owner is welcomed by mail)."""

    user_id: UUID
    email: str
    full_name: str | None
    occurred_at: datetime

    @property
    def name(self) -> str:
        """The event's wire name."""
        return "user.registered"


@dataclass(frozen=True, slots=True)
class AttachmentDeleted:
    """An attachment's record was deleted (alone, with its item or with its owner); the bytes
    stored under `blob_key` are to be removed."""

    attachment_id: UUID
    item_id: UUID
    blob_key: str
    occurred_at: datetime

    @property
    def name(self) -> str:
        """The event's wire name."""
        return "attachment.deleted"


DomainEvent = ItemEvent | AccessRevoked | UserChanged | UserRegistered | AttachmentDeleted
