"""Flat DTOs (read models, events, commands) to JSON and back, so they can be stored and
handed out again: an idempotent result, a job's arguments."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeVar, get_args, get_type_hints
from uuid import UUID

T = TypeVar("T")


def snapshot(view: object) -> str:
    """The JSON text of a flat DTO dataclass (UUIDs and datetimes as strings)."""
    fields = {f.name: getattr(view, f.name) for f in dataclasses.fields(view)}  # type: ignore[arg-type]
    return json.dumps(fields, default=_encode, separators=(",", ":"))


def restore(kind: type[T], text: str) -> T:
    """The DTO of type `kind` that `snapshot` made `text` from, equal to the original."""
    return from_fields(kind, json.loads(text))


def to_fields(view: object) -> dict[str, object]:
    """A flat DTO dataclass as JSON-compatible values (UUIDs and datetimes as strings)."""
    return {
        f.name: _plain(getattr(view, f.name))
        for f in dataclasses.fields(view)  # type: ignore[arg-type]
    }


def from_fields(kind: type[T], values: Mapping[str, Any]) -> T:
    """The DTO of type `kind` that `to_fields` (or `snapshot`) made `values` from."""
    hints = get_type_hints(kind)
    return kind(**{name: _decode(hints[name], value) for name, value in values.items()})


def _plain(value: object) -> object:
    return _encode(value) if isinstance(value, UUID | datetime) else value


def _encode(value: object) -> str:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()  # keeps the offset and every microsecond
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def _decode(hint: Any, value: Any) -> Any:
    kinds = get_args(hint) or (hint,)  # `X | None` → (X, NoneType)
    if value is None:
        return None
    if UUID in kinds:
        return UUID(value)
    if datetime in kinds:
        return datetime.fromisoformat(value)
    return value
