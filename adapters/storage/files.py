"""Blocking file primitives of the filesystem blob store, and the one way it runs them.

Each method here blocks and is run in a worker thread by `in_thread`, which waits for it to end
even when the caller is cancelled: a thread cannot be stopped, and a cancelled put that went on
to close and unlink the file a thread still writes would race it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

MISSING = (FileNotFoundError, NotADirectoryError, IsADirectoryError)


class TempFile:
    """The hidden file a put fills before it becomes the blob. Every method blocks."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.with_name(f".{target.name}.{secrets.token_hex(8)}.part")
        self._file: BinaryIO | None = None

    def create(self) -> None:
        """Create the missing directories and the empty temporary."""
        _make_directories(self.target.parent)
        self._file = open(self.path, "xb")  # noqa: SIM115 (closed by commit or discard)

    def write(self, data: bytearray) -> None:
        """Append `data` to the temporary."""
        assert self._file is not None
        self._file.write(data)

    def commit(self) -> None:
        """Make the bytes durable, rename them onto the target, make the rename durable."""
        assert self._file is not None
        file, self._file = self._file, None
        with file:
            file.flush()
            os.fsync(file.fileno())
        os.replace(self.path, self.target)
        _fsync_directory(self.target.parent)

    def discard(self) -> None:
        """Close and remove the temporary, if any is left; never raises (it runs while an
        error is on its way up)."""
        try:
            if self._file is not None:
                file, self._file = self._file, None
                file.close()
        except OSError:
            pass  # a failed flush of bytes about to be deleted
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove the temporary %s: %s", self.path, exc)


class BlobFile:
    """An open blob file read at offsets (pread: no shared file position)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def open(self) -> None:
        """Open the file; raise FileNotFoundError or IsADirectoryError when there is none."""
        fd = os.open(self._path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory of longer keys: no blob
            os.close(fd)
            raise IsADirectoryError(self._path)
        self._fd = fd

    def read_at(self, offset: int, size: int) -> bytes:
        """Return up to `size` bytes from `offset`; b"" at or past the end."""
        assert self._fd is not None
        return os.pread(self._fd, size, offset)

    def close(self) -> None:
        """Close the file, if open."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # read-only: closing never waits for the disk


def remove(path: Path) -> None:
    """Unlink `path`; nothing there (or a directory of longer keys) is no error."""
    with contextlib.suppress(*MISSING):
        path.unlink()


def _make_directories(directory: Path) -> None:
    """Create `directory` and its missing parents, each made durable in its own parent."""
    missing: list[Path] = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another put made it meanwhile
            new.mkdir()
        _fsync_directory(new.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the entries of `directory` (a rename, a new file) durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """Return `fn(*args)`, run in a worker thread and waited for to its end even if the caller
    is cancelled meanwhile; the cancellation is raised after it (one buffer, one fsync at most)."""
    call = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    cancelled: asyncio.CancelledError | None = None
    while not call.done():
        try:
            await asyncio.wait([call])  # never cancels `call` itself
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not call.cancelled():
            call.exception()  # retrieved: a failure after the cancellation is not logged
        raise cancelled
    return call.result()
