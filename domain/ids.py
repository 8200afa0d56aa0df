"""Time-ordered identifiers in the UUIDv7 layout (RFC 9562), from the standard library only."""

import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def uuid7_from(unix_ms: int, random_bits: int) -> UUID:
    """Return a UUIDv7 for a millisecond timestamp and 74 random bits (pure, for tests)."""
    rand_a = (random_bits >> 62) & 0xFFF
    rand_b = random_bits & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)


def new_id(now: datetime) -> UUID:
    """Return a fresh UUIDv7 whose time prefix is `now`, so ids sort by creation time."""
    unix_ms = (now - _EPOCH) // _MILLISECOND  # exact: float timestamps round some ms down
    return uuid7_from(unix_ms, secrets.randbits(74))
