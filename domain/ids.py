"""Time-ordered identifiers in the UUIDv7 layout (RFC 9562), from the standard library only."""

import secrets
from datetime import datetime
from uuid import UUID


def uuid7_from(unix_ms: int, random_bits: int) -> UUID:
    """Return a UUIDv7 for a millisecond timestamp and 74 random bits (pure, for tests)."""
    rand_a = (random_bits >> 62) & 0xFFF
    rand_b = random_bits & ((1 << 62) - 1)
    value = (unix_ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return UUID(int=value)


def new_id(now: datetime) -> UUID:
    """Return a fresh UUIDv7 whose time prefix is `now`, so ids sort by creation time."""
    return uuid7_from(int(now.timestamp() * 1000), secrets.randbits(74))
