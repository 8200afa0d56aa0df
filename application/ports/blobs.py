"""The blob store port: bytes kept by key (attachment contents), streamed in and out."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """A stored blob, as the orphan sweep sees it."""

    key: str
    size: int
    modified_at: datetime


class BlobStore(Protocol):
    """Bytes by key, written atomically and read in ranges; never whole in memory."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store everything `chunks` yields under `key`, atomically: readers see all of it or
        nothing. If `chunks` raises (too large, the client gone) or the store fails, nothing
        is left under `key`, nor any temporary. Memory stays bounded whatever the size.

        Returns the number of bytes stored. Raises DependencyUnavailable when the store is
        unreachable, and whatever `chunks` raised.
        """
        ...

    def read(self, key: str, *, start: int = 0, stop: int | None = None) -> AsyncIterator[bytes]:
        """Stream the bytes of `key` from offset `start` up to `stop` (exclusive; None: the end),
        in chunks of bounded size. Raises BlobNotFound (on first iteration) for a missing key,
        DependencyUnavailable when the store is unreachable."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; a missing key is no error (idempotent). Raises DependencyUnavailable."""
        ...

    def list(self, *, older_than: datetime) -> AsyncIterator[BlobInfo]:
        """Every stored blob last modified before `older_than` (for the orphan sweep).
        Raises DependencyUnavailable."""
        ...
