"""Items: a user's titled notes, versioned so that concurrent edits cannot silently overwrite."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.errors import InvalidDescription, InvalidTitle, StaleVersion
from domain.events import DomainEvent, ItemCreated, ItemDeleted, ItemSnapshot, ItemUpdated
from domain.text import storable

MAX_TITLE_CHARS = 255
MAX_DESCRIPTION_CHARS = 10_000


def check_title(title: str) -> str:
    """Return the title if it is 1..255 characters and not blank, else raise InvalidTitle."""
    if not title.strip() or len(title) > MAX_TITLE_CHARS or not storable(title):
        raise InvalidTitle(f"title must be 1 to {MAX_TITLE_CHARS} characters, not blank, no NUL")
    return title


def check_description(description: str | None) -> str | None:
    """Return the description if it is at most 10,000 characters, else raise."""
    if description is not None and (
        len(description) > MAX_DESCRIPTION_CHARS or not storable(description)
    ):
        raise InvalidDescription(
            f"description must be at most {MAX_DESCRIPTION_CHARS} characters, with no NUL"
        )
    return description


class Unset:
    """Marks an optional change that was not asked for (distinct from an explicit None)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()


@dataclass(eq=False)
class Item:
    """An item owned by one user. Every change bumps `version` and records an event."""

    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Item) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @classmethod
    def create(
        cls,
        *,
        item_id: UUID,
        owner_id: UUID,
        title: str,
        description: str | None,
        now: datetime,
    ) -> Item:
        """Create version 1 of an item and record ItemCreated."""
        item = cls(
            item_id, owner_id, check_title(title), check_description(description), 1, now, now
        )
        item.events.append(ItemCreated(item.snapshot(), now))
        return item

    def update(
        self,
        *,
        title: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        expected_versions: Collection[int] | None = None,
        now: datetime,
    ) -> None:
        """Apply the given changes if the item is at one of `expected_versions` (when given).

        A real change bumps the version by one and records ItemUpdated; a no-op changes nothing.
        """
        self.require_version(expected_versions)
        new_title = self.title if isinstance(title, Unset) else check_title(title)
        new_description = (
            self.description if isinstance(description, Unset) else check_description(description)
        )
        if (new_title, new_description) == (self.title, self.description):
            return  # nothing changes, so the version stays: "+1 per change"
        self.title, self.description = new_title, new_description
        self.version += 1
        self.updated_at = now
        self.events.append(ItemUpdated(self.snapshot(), now))

    def require_version(self, accepted: Collection[int] | None) -> None:
        """Raise StaleVersion unless the item is at one of the `accepted` versions (None: any
        version will do). An empty collection accepts none."""
        if accepted is not None and self.version not in accepted:
            wanted = ", ".join(str(v) for v in sorted(accepted)) or "none given"
            raise StaleVersion(f"item is at version {self.version}, not {wanted}")

    def delete(self, *, now: datetime, expected_versions: Collection[int] | None = None) -> None:
        """Record that the item is being deleted (the repository removes it), if it is at one
        of `expected_versions` (when given)."""
        self.require_version(expected_versions)
        self.events.append(ItemDeleted(self.snapshot(), now))

    def snapshot(self) -> ItemSnapshot:
        """The item's current state as an immutable value."""
        return ItemSnapshot(
            self.id,
            self.owner_id,
            self.title,
            self.description,
            self.version,
            self.created_at,
            self.updated_at,
        )
