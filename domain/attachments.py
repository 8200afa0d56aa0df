"""Attachments: files kept with an item. The bytes live in a blob store; this is their record.

What a client sends is never trusted as a name or a type: `safe_filename` and
`safe_content_type` turn anything into something that is safe to store and to send back in a
header.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from domain.events import AttachmentDeleted, DomainEvent

MAX_FILENAME_CHARS = 255
MAX_CONTENT_TYPE_CHARS = 255
DEFAULT_FILENAME = "file"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
BLOB_KEY_PREFIX = "attachments/"

# Control characters (C0, DEL, C1), lone surrogates (not storable as UTF-8), and the line and
# paragraph separators, which some readers treat as line breaks.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
# Bidirectional overrides and isolates: they make "evil\u202eexe.txt" display as "eviltxt.exe".
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MAX_EXTENSION_CHARS = 16
# RFC 9110: type "/" subtype *( OWS ";" OWS parameter ), parameter = token "=" token / quoted.
_TCHARS = r"[!#$%&'*+.^_`|~0-9a-z-]+"
_ESSENCE = re.compile(rf"{_TCHARS}/{_TCHARS}")
_PARAMETER = re.compile(rf'{_TCHARS}=({_TCHARS}|"[ !#-\[\]-~]*")')  # printable ASCII only
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def safe_filename(name: str | None) -> str:
    """The client's file name made safe: its last path component (split on "/" and "\\"),
    without control or bidirectional-override characters, trimmed, at most 255 characters
    (the extension kept when a long name is cut); "file" when nothing is left."""
    base = re.split(r"[/\\]", name or "")[-1]
    kept = "".join(c for c in base if _is_safe(c)).strip()
    if kept in {"", ".", ".."}:
        return DEFAULT_FILENAME
    if len(kept) <= MAX_FILENAME_CHARS:
        return kept
    stem, dot, extension = kept.rpartition(".")
    if dot and stem and len(extension) < _MAX_EXTENSION_CHARS:
        return stem[: MAX_FILENAME_CHARS - len(extension) - 1].rstrip() + dot + extension
    return kept[:MAX_FILENAME_CHARS].rstrip()


def _is_safe(char: str) -> bool:
    return unicodedata.category(char) not in _UNSAFE_CATEGORIES and char not in _BIDI_CONTROLS


def safe_content_type(value: str | None) -> str:
    """The media type the client gave, lower-cased and normalised ("type/subtype; a=b"), or
    "application/octet-stream" when it gave none or a malformed one."""
    if not value or len(value) > MAX_CONTENT_TYPE_CHARS:
        return DEFAULT_CONTENT_TYPE
    essence, *parameters = (part.strip(" \t") for part in value.lower().split(";"))
    if _ESSENCE.fullmatch(essence) is None:
        return DEFAULT_CONTENT_TYPE
    if not all(_PARAMETER.fullmatch(parameter) for parameter in parameters if parameter):
        return DEFAULT_CONTENT_TYPE
    normalised = "; ".join([essence, *(parameter for parameter in parameters if parameter)])
    return normalised if len(normalised) <= MAX_CONTENT_TYPE_CHARS else DEFAULT_CONTENT_TYPE


def blob_key(attachment_id: UUID) -> str:
    """Where an attachment's bytes are stored: made from its id, never from client input."""
    return f"{BLOB_KEY_PREFIX}{attachment_id}"


def attachment_id_of(key: str) -> UUID | None:
    """The attachment id a blob key was made from (`blob_key`), or None for any other key."""
    if not key.startswith(BLOB_KEY_PREFIX):
        return None
    try:
        attachment_id = UUID(key.removeprefix(BLOB_KEY_PREFIX))
    except ValueError:
        return None
    return attachment_id if blob_key(attachment_id) == key else None


@dataclass(eq=False)
class Attachment:
    """A file attached to an item: what the client called it and said it was, and the size
    and SHA-256 (lowercase hex) of the bytes stored under `blob_key`."""

    id: UUID
    item_id: UUID
    owner_id: UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attachment) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    @classmethod
    def store(
        cls,
        *,
        attachment_id: UUID,
        item_id: UUID,
        owner_id: UUID,
        filename: str | None,
        content_type: str | None,
        size: int,
        sha256: str,
        now: datetime,
    ) -> Attachment:
        """Record bytes already stored under `blob_key(attachment_id)`; the client's name and
        type are made safe. Raises ValueError for a size below 1 or a malformed digest (the
        caller counted them, so either is a bug, not a client's mistake)."""
        if size < 1:
            raise ValueError(f"an attachment has at least one byte, not {size}")
        if _SHA256_HEX.fullmatch(sha256) is None:
            raise ValueError("sha256 must be 64 lowercase hexadecimal digits")
        return cls(
            attachment_id,
            item_id,
            owner_id,
            safe_filename(filename),
            safe_content_type(content_type),
            size,
            sha256,
            now,
        )

    @property
    def blob_key(self) -> str:
        """Where the bytes are stored."""
        return blob_key(self.id)

    def delete(self, *, now: datetime) -> None:
        """Record that the attachment is being deleted (the repository removes the row; a
        job removes the bytes)."""
        self.events.append(AttachmentDeleted(self.id, self.item_id, self.blob_key, now))
