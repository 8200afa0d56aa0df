"""Bodies of the item endpoints."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.items import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS
from entrypoints.http.schemas.common import (
    ITEM_ID_EXAMPLE,
    TIMESTAMP_EXAMPLE,
    USER_ID_EXAMPLE,
    Input,
    Patch,
    absent_is_not_null,
)


class ItemCreate(Input):
    """A new item."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy milk", "description": "Two litres"}]}
    )

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION_CHARS)


class ItemPatch(Patch):
    """The changes to make: an absent field is left alone, `description: null` clears it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"description": None}]})

    title: str = Field(
        "",  # never read: only fields the client sent are applied (`model_fields_set`)
        min_length=1,
        max_length=MAX_TITLE_CHARS,
        description="May be omitted, never null.",
        json_schema_extra=absent_is_not_null,
    )
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION_CHARS, json_schema_extra=absent_is_not_null
    )


class ItemOut(BaseModel):
    """An item as clients see it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": ITEM_ID_EXAMPLE,
                    "owner_id": USER_ID_EXAMPLE,
                    "title": "Buy milk",
                    "description": None,
                    "version": 1,
                    "created_at": TIMESTAMP_EXAMPLE,
                    "updated_at": TIMESTAMP_EXAMPLE,
                }
            ]
        }
    )

    id: UUID
    owner_id: UUID
    title: str
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    """One page of items (API v2): pass `next_cursor` back as `cursor` for the next one."""

    data: list[ItemOut]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")
