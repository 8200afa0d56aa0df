"""The BlobStore port on an S3 bucket (AWS S3, MinIO, Ceph, R2, moto...) through aiobotocore.

A put holds one part at a time (8 MiB, up to the chunk that passes it, kept as the chunks
themselves): data that fits in one part is one PutObject, anything larger a multipart upload,
which S3 shows to nobody until it is completed and which is aborted on any failure or
cancellation. So a reader sees the old object or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from adapters.s3.errors import TRANSPORT_ERRORS, error_code, to_the_end, translated
from adapters.s3.parts import MultipartUpload, part_body
from application.errors import BlobNotFound, DependencyUnavailable
from application.ports.blobs import BlobInfo

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of 5 MiB or more, the last one excepted
CHUNK_BYTES = 256 * 1024  # the most one read of a body yields
_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3BlobStore:
    """Blobs as objects of one bucket, their keys the blob keys.

    Values come from the container; None credentials or region mean the standard AWS chain
    (environment, profile, instance role). An `endpoint_url` (MinIO, moto...) is addressed
    path-style. `timeout` bounds each read of an answer; `attempts` counts tries per request
    (botocore's standard retries, with backoff). `start()` opens the one client every call
    shares, `close()` closes it.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        max_connections: int = 50,
        timeout: float = 30.0,
        attempts: int = 3,
    ) -> None:
        self._bucket = bucket
        self._client_options: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
        }
        self._config = AioConfig(
            connect_timeout=min(timeout, 5.0),
            read_timeout=timeout,
            retries={"max_attempts": attempts, "mode": "standard"},
            max_pool_connections=max_connections,  # each download streaming holds one
            s3={"addressing_style": "path"} if endpoint_url else None,
            # Checksums only where S3 demands them: several S3-compatible stores refuse the
            # newer default's streamed trailing checksums.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            warm_up_loader_caches=True,  # read botocore's service model in a thread
        )
        self._exits: contextlib.AsyncExitStack | None = None
        self._s3: S3Client | None = None

    async def start(self) -> None:
        """Open the client (no request is sent). Raises DependencyUnavailable when the
        configuration cannot make one (no region, no credentials chain...)."""
        if self._s3 is not None:
            return
        exits = contextlib.AsyncExitStack()
        with translated("open a client"):
            creator = AioSession().create_client("s3", config=self._config, **self._client_options)
            self._s3 = await exits.enter_async_context(creator)
        self._exits = exits

    async def close(self) -> None:
        """Close the client and its connections; a closed store may be started again."""
        exits, self._exits, self._s3 = self._exits, None, None
        if exits is not None:
            await exits.aclose()

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Upload `chunks` under `key`; return the size.

        On any failure or cancellation a multipart upload is aborted and an older object
        under `key` stays as it was. Raises DependencyUnavailable when S3 fails, and whatever
        `chunks` raised, unchanged.
        """
        s3 = self._client()
        upload = MultipartUpload(s3, self._bucket, key)
        size, pending, pending_size = 0, list[bytes](), 0
        try:
            async for chunk in chunks:
                if pending_size >= PART_BYTES:  # more follows: the pending part is not the last
                    await upload.add(pending)
                    pending, pending_size = [], 0
                if chunk:
                    pending.append(bytes(chunk))  # a copy only if the caller's is mutable
                    pending_size += len(chunk)
                    size += len(chunk)
            if upload.started:
                if pending:
                    await upload.add(pending)
                await upload.complete()
            else:
                with translated("store an object"):
                    body = part_body(pending)
                    await to_the_end(s3.put_object(Bucket=self._bucket, Key=key, Body=body))
        except BaseException:
            await upload.abort()
            raise
        return size

    async def read(
        self, key: str, *, start: int = 0, stop: int | None = None
    ) -> AsyncIterator[bytes]:
        """Yield bytes [start, stop) of `key` (one ranged GetObject) in chunks of at most
        256 KiB. A range past the end is cut at the end. Raises BlobNotFound for a missing
        key, ValueError for a negative start or a stop before start, DependencyUnavailable
        when S3 fails."""
        if start < 0 or (stop is not None and stop < start):
            raise ValueError(f"not a byte range: [{start}, {stop})")
        s3 = self._client()
        request: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if stop == start:  # S3 has no empty range: only say whether the key exists
            await self._get(key, s3.head_object(**request))
            return
        if start or stop is not None:
            request["Range"] = f"bytes={start}-{'' if stop is None else stop - 1}"
        answer = await self._get(key, s3.get_object(**request))
        if answer is None:
            return
        body = answer["Body"]
        try:
            while True:
                with translated("read an object"):
                    data = await body.read(CHUNK_BYTES)
                if not data:
                    return
                yield data
        finally:
            body.close()  # early: drops the connection rather than reading the rest

    async def delete(self, key: str) -> None:
        """DeleteObject `key` (S3 answers alike whether it existed). Raises
        DependencyUnavailable when S3 fails."""
        with translated("delete an object"):
            await self._client().delete_object(Bucket=self._bucket, Key=key)

    async def list(self, *, older_than: datetime) -> AsyncIterator[BlobInfo]:
        """Yield every object of the bucket last modified before `older_than` (an aware
        instant), a page of ListObjectsV2 at a time. Raises DependencyUnavailable when S3
        fails."""
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self._bucket)
        iterator = aiter(pages)
        while True:
            with translated("list objects"):
                try:
                    page = await anext(iterator)
                except StopAsyncIteration:
                    return
            for entry in page.get("Contents", []):
                modified = entry["LastModified"].astimezone(UTC)
                if modified < older_than:
                    yield BlobInfo(entry["Key"], entry["Size"], modified)

    def _client(self) -> S3Client:
        if self._s3 is None:
            raise RuntimeError("S3BlobStore is not started: await start() first")
        return self._s3

    @staticmethod
    async def _get(key: str, request: Awaitable[Any]) -> Any:
        """The answer to a GET or HEAD of `key`; None when the range starts past the end."""
        try:
            return await request
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise BlobNotFound(f"no blob {key}") from exc
            if error_code(exc) == "InvalidRange":
                return None
            raise DependencyUnavailable(
                f"the object store refused a read: {error_code(exc)}"
            ) from exc
        except TRANSPORT_ERRORS as exc:
            raise DependencyUnavailable("the object store is unavailable (read)") from exc
