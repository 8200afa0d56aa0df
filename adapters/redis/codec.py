"""Domain events as JSON bytes, for pub/sub messages between processes.

Every event is a flat dataclass (an item event nests its item's snapshot), so its fields are
read off the dataclass: no field list is written here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from application.snapshots import from_fields, to_fields
from domain.events import (
    AccessRevoked,
    DomainEvent,
    ItemCreated,
    ItemDeleted,
    ItemEvent,
    ItemSnapshot,
    ItemUpdated,
    UserChanged,
    UserRegistered,
)

_ITEM_EVENTS: dict[str, type[ItemEvent]] = {
    "item.created": ItemCreated,
    "item.updated": ItemUpdated,
    "item.deleted": ItemDeleted,
}
_OTHER_EVENTS: dict[str, type[AccessRevoked | UserChanged | UserRegistered]] = {
    "access.revoked": AccessRevoked,
    "user.changed": UserChanged,
    "user.registered": UserRegistered,
}


def encode_event(event: DomainEvent) -> bytes:
    """An event as JSON bytes: `type`, `occurred_at` and its other fields."""
    body: dict[str, Any]
    if isinstance(event, ItemEvent):
        body = {"occurred_at": event.occurred_at.isoformat(), "item": to_fields(event.item)}
    else:
        body = to_fields(event)
    return orjson.dumps({"type": event.name, **body})


def decode_event(raw: bytes) -> DomainEvent:
    """The inverse of encode_event. Raises ValueError (or KeyError) on a foreign message."""
    data = orjson.loads(raw)
    kind = data.pop("type")
    if kind in _ITEM_EVENTS:
        item = from_fields(ItemSnapshot, data["item"])
        return _ITEM_EVENTS[kind](item, datetime.fromisoformat(data["occurred_at"]))
    return from_fields(_OTHER_EVENTS[kind], data)
