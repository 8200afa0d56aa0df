"""The export files, byte for byte: every item as one NDJSON line or one CSV record.

docs/http-api.md ("Export") describes them; this module is their one definition in Python. A
store that writes them itself, faster (PostgreSQL, in SQL: adapters/sqlalchemy/copy_export.py),
must produce exactly these bytes, which the export contract suite checks on every adapter.

- NDJSON: each item as `GET /api/v1/items/{id}` answers it (keys in field order, no spaces,
  non-ASCII as UTF-8, RFC 3339 timestamps in UTC), then LF.
- CSV (RFC 4180, CRLF): the header row, then one record per item. Every text cell is quoted
  (a quote inside is doubled), so a newline or comma in a title needs no special case; the
  version is bare; an absent description is an empty cell, an empty one is `""`. A title or
  description that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
  `'`, so that a spreadsheet shows it as text instead of running it as a formula.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from enum import StrEnum
from uuid import UUID

from application.dto import ItemView


class ExportFormat(StrEnum):
    """The formats an export is written in."""

    NDJSON = "ndjson"
    CSV = "csv"


COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(ItemView))
"""The fields of every line and record, in order: the item's read model's."""

CSV_HEADER = (",".join(COLUMNS) + "\r\n").encode()

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet would take a cell beginning with as a formula (OWASP CSV injection)."""


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC, as the item's JSON writes what the stores give back:
    `2026-11-24T21:05:03.123456Z`, the microseconds only when there are any. A naive moment is
    taken to be in UTC."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def _json_value(value: object) -> str:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    raise TypeError(f"{type(value).__name__} has no export form")


def ndjson_line(item: ItemView) -> str:
    """The item as one line of JSON, ending with LF."""
    body = {name: getattr(item, name) for name in COLUMNS}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_value)
    return text + "\n"


def defused(text: str) -> str:
    """`text`, with a `'` in front if a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        text = defused(value)
    elif isinstance(value, datetime):
        text = timestamp(value)
    else:
        text = str(value)
    return '"' + text.replace('"', '""') + '"'


def csv_record(item: ItemView) -> str:
    """The item as one CSV record, ending with CRLF."""
    return ",".join(_csv_cell(getattr(item, name)) for name in COLUMNS) + "\r\n"


def header(fmt: ExportFormat) -> bytes:
    """What the file begins with, before any item: the CSV header row (NDJSON: nothing)."""
    return CSV_HEADER if fmt is ExportFormat.CSV else b""


def encode(items: Iterable[ItemView], fmt: ExportFormat) -> bytes:
    """The lines (NDJSON) or records (CSV) of these items, in the order given, as UTF-8."""
    write = ndjson_line if fmt is ExportFormat.NDJSON else csv_record
    return "".join(map(write, items)).encode()
