"""Read models handed out of use cases: plain values, never entities."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from domain.attachments import Attachment
from domain.events import ItemSnapshot
from domain.items import Item
from domain.users import User


@dataclass(frozen=True, slots=True)
class ItemView:
    """An item as clients see it: the application's own read model, not the domain's
    snapshot, so either can change without the other."""

    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: Item | ItemSnapshot) -> ItemView:
        """The read model of an item, or of the state an event recorded (the same view)."""
        return cls(
            item.id,
            item.owner_id,
            item.title,
            item.description,
            item.version,
            item.created_at,
            item.updated_at,
        )


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as clients see it: never the password hash."""

    id: UUID
    email: str
    full_name: str | None
    is_active: bool
    is_superuser: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserView:
        """The read model of a user."""
        return cls(
            user.id,
            user.email.value,
            user.full_name,
            user.is_active,
            user.is_superuser,
            user.created_at,
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling a use case: the authenticated user and the token they presented."""

    user_id: UUID
    is_superuser: bool
    token_id: str = ""
    token_expires_at: datetime | None = None
    session_id: UUID | None = None

    def may_access(self, owner_id: UUID) -> bool:
        """Owners reach their own data; superusers reach everyone's."""
        return self.is_superuser or self.user_id == owner_id


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of an offset-paginated collection, with the total across all pages."""

    items: list[T]
    total: int


@dataclass(frozen=True, slots=True)
class CursorPage(Generic[T]):
    """One page of a keyset-paginated collection; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class AttachmentView:
    """An attachment as clients see it: `sha256` is the lowercase hex digest of its bytes."""

    id: UUID
    item_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime

    @classmethod
    def of(cls, attachment: Attachment) -> AttachmentView:
        """The read model of an attachment."""
        return cls(
            attachment.id,
            attachment.item_id,
            attachment.filename,
            attachment.content_type,
            attachment.size,
            attachment.sha256,
            attachment.created_at,
        )
