"""Domain events and item views as JSON bytes, for Redis values and pub/sub messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from application.dto import ItemView
from domain.events import (
    AccessRevoked,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEvent,
    ItemUpdated,
    UserChanged,
)

_ITEM_EVENTS: dict[str, type[ItemEvent]] = {
    "item.created": ItemCreated,
    "item.updated": ItemUpdated,
    "item.deleted": ItemDeleted,
}


def item_to_dict(item: ItemView) -> dict[str, Any]:
    """An item as plain JSON values."""
    return {
        "id": str(item.id),
        "owner_id": str(item.owner_id),
        "title": item.title,
        "description": item.description,
        "version": item.version,
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
    }


def item_from_dict(data: dict[str, Any]) -> ItemView:
    """The inverse of item_to_dict."""
    return ItemView(
        UUID(data["id"]),
        UUID(data["owner_id"]),
        data["title"],
        data["description"],
        int(data["version"]),
        datetime.fromisoformat(data["created_at"]),
        datetime.fromisoformat(data["updated_at"]),
    )


def encode_event(event: DomainEvent) -> bytes:
    """An event as JSON bytes."""
    if isinstance(event, ItemEvent):
        body: dict[str, Any] = {"item": item_to_dict(event.item)}
    elif isinstance(event, UserChanged):
        body = {"user_id": str(event.user_id)}
    else:
        body = {
            "user_id": str(event.user_id),
            "token_id": event.token_id,
            "keep_token_id": event.keep_token_id,
            "session_id": None if event.session_id is None else str(event.session_id),
        }
    return orjson.dumps({"type": event.name, "occurred_at": event.occurred_at.isoformat(), **body})


def decode_event(raw: bytes) -> DomainEvent:
    """The inverse of encode_event. Raises ValueError (or KeyError) on a foreign message."""
    data = orjson.loads(raw)
    occurred_at = datetime.fromisoformat(data["occurred_at"])
    if data["type"] == "user.changed":
        return UserChanged(UUID(data["user_id"]), occurred_at)
    if data["type"] == "access.revoked":
        session = data.get("session_id")
        return AccessRevoked(
            UUID(data["user_id"]),
            occurred_at,
            data["token_id"],
            data["keep_token_id"],
            None if session is None else UUID(session),
        )
    return _ITEM_EVENTS[data["type"]](item_from_dict(data["item"]), occurred_at)
