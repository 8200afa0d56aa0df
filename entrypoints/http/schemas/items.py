"""Bodies of the item endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.items import MAX_DESCRIPTION_CHARS, MAX_TITLE_CHARS, check_description, check_title
from entrypoints.http.schemas.common import (
    ITEM_ID_EXAMPLE,
    NO_NUL,
    NOT_BLANK_NO_NUL,
    TIMESTAMP_EXAMPLE,
    USER_ID_EXAMPLE,
    Input,
    Patch,
    absent_is_not_null,
    domain_rule,
)

Title = Annotated[str, domain_rule(check_title)]
Description = Annotated[str, domain_rule(check_description)]
TITLE_RULE = "1 to 255 characters, not blank, no NUL."
DESCRIPTION_RULE = "At most 10,000 characters, no NUL."


def _omissible_title(schema: dict[str, Any]) -> None:
    absent_is_not_null(schema)
    schema["pattern"] = NOT_BLANK_NO_NUL


def _omissible_description(schema: dict[str, Any]) -> None:
    absent_is_not_null(schema)
    _nul_free_string(schema)


def _nul_free_string(schema: dict[str, Any]) -> None:
    """The pattern on the string branch of a nullable string."""
    for choice in schema.get("anyOf", ()):
        if choice.get("type") == "string":
            choice["pattern"] = NO_NUL


class ItemCreate(Input):
    """A new item."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy milk", "description": "Two litres"}]}
    )

    title: Title = Field(
        min_length=1,
        max_length=MAX_TITLE_CHARS,
        description=TITLE_RULE,
        json_schema_extra={"pattern": NOT_BLANK_NO_NUL},
    )
    description: Description | None = Field(
        None,
        max_length=MAX_DESCRIPTION_CHARS,
        description=DESCRIPTION_RULE,
        json_schema_extra=_nul_free_string,
    )


class ItemPatch(Patch):
    """The changes to make: an absent field is left alone, `description: null` clears it."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"title": "Buy oat milk", "description": "Two litres"}]}
    )

    title: Title = Field(
        "",  # never read: only fields the client sent are applied (`model_fields_set`)
        min_length=1,
        max_length=MAX_TITLE_CHARS,
        description=f"{TITLE_RULE} May be omitted, never null.",
        json_schema_extra=_omissible_title,
    )
    description: Description | None = Field(
        None,
        max_length=MAX_DESCRIPTION_CHARS,
        description=f"{DESCRIPTION_RULE} May be omitted; null clears it.",
        json_schema_extra=_omissible_description,
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
                    "description": "Two litres",
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
