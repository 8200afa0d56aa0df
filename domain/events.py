"""Domain events: facts about item changes, recorded by the aggregate, published after commit."""

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
