"""The BlobStore port on a local directory: one file per key, written atomically.

A put writes a hidden temporary beside its target (`.<name>.<random>.part`), fsyncs it, renames
it onto the key and fsyncs the directory, so a reader (or a crash) sees the old bytes or the
new ones, never a mix. Every disk call runs in a worker thread; the event loop only hands over
buffers of at most 256 KiB.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from adapters.storage.files import MISSING, BlobFile, TempFile, in_thread, remove
from application.errors import BlobNotFound, DependencyUnavailable
from application.ports.blobs import BlobInfo

T = TypeVar("T")

CHUNK_BYTES = 256 * 1024  # one write, or one read, per worker-thread call
_LIST_BATCH = 256  # directory entries examined per worker-thread call


class FileSystemBlobStore:
    """Blobs as files under `root`; the key's "/"-separated segments are subdirectories.

    A key is refused (ValueError) unless every segment is a plain name: not empty, not
    starting with "." (temporaries do), no backslash or NUL, so no key can leave `root`.
    """

    def __init__(self, root: str) -> None:
        self._root = Path(root)

    async def start(self) -> None:
        """Nothing to open (the lifecycle is the S3 adapter's); present for the container."""

    async def close(self) -> None:
        """Nothing to close."""

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Write `chunks` to a temporary, then rename it onto `key`; return the size.

        On any failure or cancellation the temporary is removed and an older blob under `key`
        stays as it was. Raises DependencyUnavailable for a disk error, and whatever `chunks`
        raised, unchanged.
        """
        temp = TempFile(self._path(key))
        size, buffer = 0, bytearray()
        try:
            await self._io(temp.create)
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                if len(buffer) >= CHUNK_BYTES:
                    data, buffer = buffer, bytearray()
                    await self._io(temp.write, data)
            if buffer:
                await self._io(temp.write, buffer)
            await self._io(temp.commit)
        except BaseException:
            await in_thread(temp.discard)
            raise
        return size

    async def read(
        self, key: str, *, start: int = 0, stop: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield bytes [start, stop) of `key` in chunks of at most 256 KiB.

        A range past the end is cut at the end. Raises BlobNotFound for a missing key,
        ValueError for a negative start or a stop before start, DependencyUnavailable for a
        disk error. The file stays open while the iterator lives: an overwrite meanwhile does
        not change what it yields.
        """
        _check_range(start, stop)
        reader = BlobFile(self._path(key))
        try:
            try:
                await in_thread(reader.open)
            except MISSING as exc:
                raise BlobNotFound(f"no blob {key}") from exc
            except OSError as exc:
                raise self._unavailable(exc) from exc
            offset = start
            while stop is None or offset < stop:
                size = CHUNK_BYTES if stop is None else min(CHUNK_BYTES, stop - offset)
                data = await self._io(reader.read_at, offset, size)
                if not data:
                    return
                offset += len(data)
                yield data
        finally:
            reader.close()

    async def delete(self, key: str) -> None:
        """Remove the file of `key`; nothing to remove is no error. Raises
        DependencyUnavailable for a disk error."""
        await self._io(remove, self._path(key))

    async def list(self, *, older_than: datetime) -> AsyncIterator[BlobInfo]:
        """Yield every blob whose file was last modified before `older_than` (an aware
        instant); temporaries are not blobs, and one abandoned before `older_than` (a put cut
        short by a crash) is removed on the way. Raises DependencyUnavailable for a disk error."""
        entries = self._scan(older_than)
        while batch := await self._io(lambda: list(itertools.islice(entries, _LIST_BATCH))):
            for info in batch:
                yield info

    def _scan(self, older_than: datetime) -> Iterator[BlobInfo]:
        def refuse(error: OSError) -> None:
            if not isinstance(error, FileNotFoundError):  # no root yet: no blobs yet
                raise error

        for directory, subdirectories, names in os.walk(self._root, onerror=refuse):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            for name in sorted(n for n in names if n.startswith(".") and n.endswith(".part")):
                _remove_if_older(Path(directory, name), older_than)  # a put cut by a crash
            for name in sorted(n for n in names if not n.startswith(".")):
                path = Path(directory, name)
                try:
                    status = path.stat()
                except FileNotFoundError:  # deleted meanwhile
                    continue
                modified = datetime.fromtimestamp(status.st_mtime_ns / 1e9, UTC)
                if modified < older_than:
                    yield BlobInfo(
                        path.relative_to(self._root).as_posix(), status.st_size, modified
                    )

    def _path(self, key: str) -> Path:
        segments = key.split("/")
        for segment in segments:
            if not segment or segment.startswith(".") or "\\" in segment or "\x00" in segment:
                raise ValueError(f"not a blob key: {key!r}")
        return self._root.joinpath(*segments)

    async def _io(self, fn: Callable[..., T], *args: object) -> T:
        try:
            return await in_thread(fn, *args)
        except OSError as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: OSError) -> DependencyUnavailable:
        return DependencyUnavailable(f"the blob directory failed: {exc.strerror or exc}")


def _remove_if_older(path: Path, older_than: datetime) -> None:
    try:
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < older_than:
            path.unlink()
    except FileNotFoundError:  # finished or removed meanwhile
        pass


def _check_range(start: int, stop: int | None) -> None:
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"not a byte range: [{start}, {stop})")
