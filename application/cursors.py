"""Opaque keyset cursors, signed and bound to their owner so they cannot be forged or shared."""

import base64
import binascii
import hashlib
import hmac
from uuid import UUID

from application.errors import InvalidCursor

_TAG_BYTES = 16
CURSOR_CHARS = ((16 + _TAG_BYTES) * 4 + 2) // 3
"""The length of every cursor: a position and its tag in unpadded URL-safe base64."""


class CursorCodec:
    """Encodes a position (an item id) for one owner; decoding checks the signature and owner."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _tag(self, position: bytes, owner_id: UUID) -> bytes:
        message = position + owner_id.bytes
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, position: UUID, owner_id: UUID) -> str:
        """Return the opaque cursor for `position` in the owner's listing."""
        raw = position.bytes + self._tag(position.bytes, owner_id)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def decode(self, cursor: str, owner_id: UUID) -> UUID:
        """Return the position a cursor marks. Raises InvalidCursor if forged or foreign."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("cursor is not valid") from exc
        position, tag = raw[:16], raw[16:]
        if len(raw) != 16 + _TAG_BYTES or not hmac.compare_digest(
            tag, self._tag(position, owner_id)
        ):
            raise InvalidCursor("cursor is not valid")
        return UUID(bytes=position)
