"""The translation of S3 failures, and cleanup that a cancellation may not cut short."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import TypeVar

import aiohttp
from botocore.exceptions import BotoCoreError, ClientError

from application.errors import DependencyUnavailable

T = TypeVar("T")

# aiobotocore wraps most transport failures in BotoCoreError; aiohttp's own and timeouts can
# still escape it (a body read, a closed connector).
TRANSPORT_ERRORS = (BotoCoreError, aiohttp.ClientError, asyncio.TimeoutError, OSError)


def error_code(exc: ClientError) -> str:
    """The S3 error code of a refusal (`NoSuchKey`, `InvalidRange`, `404` for a HEAD)."""
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn any S3 or transport failure inside the block into DependencyUnavailable."""
    try:
        yield
    except ClientError as exc:
        raise DependencyUnavailable(
            f"the object store refused to {action}: {error_code(exc) or exc}"
        ) from exc
    except TRANSPORT_ERRORS as exc:
        raise DependencyUnavailable(f"the object store is unavailable ({action})") from exc


async def to_the_end(step: Awaitable[T]) -> T:
    """Await `step` to its end even if the caller is cancelled meanwhile, then re-raise the
    cancellation. For requests whose outcome must be known: a multipart upload created (so it
    can be aborted), an abort, a completion."""
    task = asyncio.ensure_future(step)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait([task])  # never cancels `task` itself
        except asyncio.CancelledError as exc:
            cancelled = exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: a failure after the cancellation is not logged
        raise cancelled
    return task.result()
