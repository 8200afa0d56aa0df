"""What a put sends: a part (or a whole small object) as a body, and the multipart upload."""

from __future__ import annotations

import bisect
import io
import itertools
import logging
from typing import IO, TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from adapters.s3.errors import TRANSPORT_ERRORS, error_code, to_the_end, translated

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

log = logging.getLogger(__name__)


class PartBody(io.RawIOBase):
    """The chunks of one part read as one seekable file, never joined.

    Joining 8 MiB of chunks into one bytes object would hold the part twice; handing aiohttp
    a bytes body would let the transport copy what the socket did not take yet, a third time.
    A file is read by aiohttp in 64 KiB pieces, each sent before the next is read.
    """

    def __init__(self, chunks: list[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._starts = [0, *itertools.accumulate(len(chunk) for chunk in chunks)]
        self._size = self._starts.pop()
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: WriteableBuffer) -> int:
        target = memoryview(buffer).cast("B")
        filled = 0
        while filled < len(target) and self._position < self._size:
            index = bisect.bisect_right(self._starts, self._position) - 1
            chunk = memoryview(self._chunks[index])[self._position - self._starts[index] :]
            taken = min(len(chunk), len(target) - filled)
            target[filled : filled + taken] = chunk[:taken]
            filled += taken
            self._position += taken
        return filled


def part_body(chunks: list[bytes]) -> IO[bytes]:
    """`chunks` as a request body (a PartBody is a binary file; the stubs want a typing.IO)."""
    return cast(IO[bytes], PartBody(chunks))


class MultipartUpload:
    """One multipart upload of `key`, created with its first part, completed or aborted."""

    def __init__(self, s3: S3Client, bucket: str, key: str) -> None:
        self._s3, self._bucket, self._key = s3, bucket, key
        self._id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []

    @property
    def started(self) -> bool:
        """Whether a part was sent (and the upload must be completed or aborted)."""
        return self._id is not None

    async def add(self, chunks: list[bytes]) -> None:
        """Send `chunks` as the next part (at least 5 MiB unless it is the last). Raises
        DependencyUnavailable."""
        with translated("upload a part"):
            if self._id is None:  # to the end: an upload created must be known to be aborted
                created = await to_the_end(
                    self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key)
                )
                self._id = created["UploadId"]
            number = len(self._parts) + 1
            answer = await self._s3.upload_part(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._id,
                PartNumber=number,
                Body=part_body(chunks),
            )
            self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def complete(self) -> None:
        """Make the parts the object (to the end, even when cancelled meanwhile). Raises
        DependencyUnavailable."""
        assert self._id is not None
        with translated("complete an upload"):
            await to_the_end(
                self._s3.complete_multipart_upload(
                    Bucket=self._bucket,
                    Key=self._key,
                    UploadId=self._id,
                    MultipartUpload={"Parts": self._parts},
                )
            )
        self._id = None  # nothing left to abort

    async def abort(self) -> None:
        """Abort the upload if one was created; a failure is logged (a bucket lifecycle rule
        AbortIncompleteMultipartUpload is the backstop), never raised over the first error."""
        if self._id is None:
            return
        upload_id, self._id = self._id, None
        try:
            await to_the_end(
                self._s3.abort_multipart_upload(
                    Bucket=self._bucket, Key=self._key, UploadId=upload_id
                )
            )
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":  # completed after all, as it was cancelled
                log.warning("could not abort the upload %s of %s: %s", upload_id, self._key, exc)
        except TRANSPORT_ERRORS as exc:
            log.warning("could not abort the upload %s of %s: %s", upload_id, self._key, exc)
