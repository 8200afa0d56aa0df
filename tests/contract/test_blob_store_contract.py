"""Every BlobStore adapter alike: the local filesystem and S3 (a real moto server) keep bytes by
key, atomically, read them back in any range, and stream both ways in bounded memory.

The S3 runs need `PORTICO_TEST_S3_ENDPOINT` (`bash scripts/check` starts a moto server and
exports it); without it they are skipped, unless `PORTICO_REQUIRE_SERVERS=1` makes that a
failure. Each module run gets a bucket of its own.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.s3.blobs import PART_BYTES, S3BlobStore
from adapters.storage.filesystem import FileSystemBlobStore
from application.errors import BlobNotFound, DependencyUnavailable

MiB = 1024 * 1024
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
FEW = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
S3_CREDENTIALS = {"region": "us-east-1", "access_key_id": "testing", "secret_access_key": "x"}


class ClientGone(Exception):
    """What an upload's source raises when its client disconnects."""


# ---------------------------------------------------------------------------------------------
# The adapters under test
# ---------------------------------------------------------------------------------------------
@dataclass
class Bucket:
    """A bucket of the moto server, and a plain (sync) client to look into it."""

    endpoint: str
    name: str
    client: Any


@dataclass
class Subject:
    """An adapter, started, and a look behind it: what a put of a key left besides the blob
    (temporaries on disk, unfinished multipart uploads)."""

    store: FileSystemBlobStore | S3BlobStore
    leftovers: Callable[[str], list[str]]


def _s3_endpoint() -> str:
    endpoint = os.environ.get("PORTICO_TEST_S3_ENDPOINT")
    if endpoint:
        return endpoint
    message = "S3 is not configured: set PORTICO_TEST_S3_ENDPOINT (bash scripts/check does)"
    required = os.environ.get("PORTICO_REQUIRE_SERVERS") == "1"
    if required or os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[Bucket]:
    """A fresh bucket on the throwaway S3 server, emptied and removed after the module."""
    endpoint = _s3_endpoint()
    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["region"],
        aws_access_key_id=S3_CREDENTIALS["access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["secret_access_key"],
    )
    bucket = Bucket(endpoint, f"portico-contract-{uuid.uuid4().hex[:12]}", client)
    client.create_bucket(Bucket=bucket.name)
    yield bucket
    for upload in client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []):
        client.abort_multipart_upload(
            Bucket=bucket.name, Key=upload["Key"], UploadId=upload["UploadId"]
        )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
        for entry in page.get("Contents", []):
            client.delete_object(Bucket=bucket.name, Key=entry["Key"])
    client.delete_bucket(Bucket=bucket.name)
    client.close()


@pytest.fixture(params=["filesystem", "s3"])
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    """Each adapter in turn, started, over an empty directory or a bucket of this module's."""
    if request.param == "filesystem":
        root = tmp_path / "blobs"
        store: FileSystemBlobStore | S3BlobStore = FileSystemBlobStore(str(root))

        def leftovers(key: str) -> list[str]:
            return sorted(str(p.relative_to(root)) for p in root.rglob(".*"))

    else:
        bucket: Bucket = request.getfixturevalue("s3_bucket")
        store = S3BlobStore(bucket.name, endpoint_url=bucket.endpoint, **S3_CREDENTIALS)

        def leftovers(key: str) -> list[str]:
            answer = bucket.client.list_multipart_uploads(Bucket=bucket.name, Prefix=key)
            return [upload["UploadId"] for upload in answer.get("Uploads", [])]

    await store.start()
    yield Subject(store, leftovers)
    await store.close()


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def a_key() -> str:
    return f"attachments/{uuid.uuid4()}"


def random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunks_of(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


async def failing_after(
    data: bytes, then: Callable[[], object] = lambda: None
) -> AsyncIterator[bytes]:
    """Yields `data`, calls `then` (to look at the store midway), then the client is gone."""
    async for chunk in chunks_of(data, MiB):
        yield chunk
    then()
    raise ClientGone


async def read_all(store: FileSystemBlobStore | S3BlobStore, key: str, **span: Any) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, **span)])


async def keys_older_than(store: FileSystemBlobStore | S3BlobStore, cutoff: datetime) -> set[str]:
    return {info.key async for info in store.list(older_than=cutoff)}


# ---------------------------------------------------------------------------------------------
# Put and read
# ---------------------------------------------------------------------------------------------
@FEW
@given(data=st.data())
async def test_any_bytes_come_back_whole_and_in_any_range(
    subject: Subject, data: st.DataObject
) -> None:
    size = data.draw(st.sampled_from([0, 1, 1000]) | st.integers(0, 3 * MiB), label="size")
    content = random_bytes(size, data.draw(st.integers(0, 2**32), label="seed"))
    produced = data.draw(st.integers(max(1, size // 200), MiB), label="chunk size")
    key = a_key()

    assert await subject.store.put(key, chunks_of(content, produced)) == size
    chunks = [chunk async for chunk in subject.store.read(key)]
    assert b"".join(chunks) == content
    assert all(len(chunk) <= MiB for chunk in chunks)
    for _ in range(data.draw(st.integers(1, 6), label="reads")):
        start = data.draw(st.integers(0, size + 10), label="start")
        stop = data.draw(st.none() | st.integers(start, size + 10), label="stop")
        assert await read_all(subject.store, key, start=start, stop=stop) == content[start:stop]
    await subject.store.delete(key)


@pytest.mark.parametrize(
    ("size", "produced"),
    [
        (PART_BYTES, 64 * 1024),  # exactly one part: a single PutObject
        (PART_BYTES + 1, 64 * 1024),  # the smallest multipart upload: one byte in its last part
        (2 * PART_BYTES + 3, MiB + 1),  # three parts, none on a chunk boundary
        (2 * PART_BYTES + 3, 2 * PART_BYTES + 3),  # all in one chunk
    ],
    ids=["one-part", "one-part-and-a-byte", "three-parts", "one-big-chunk"],
)
async def test_a_blob_of_several_parts_comes_back_across_the_part_boundaries(
    subject: Subject, size: int, produced: int
) -> None:
    content, key = random_bytes(size, seed=size), a_key()
    assert await subject.store.put(key, chunks_of(content, produced)) == size
    assert hashlib.sha256(await read_all(subject.store, key)).digest() == (
        hashlib.sha256(content).digest()
    )
    for start, stop in [(PART_BYTES - 5, PART_BYTES + 5), (size - 3, None), (0, 7)]:
        assert await read_all(subject.store, key, start=start, stop=stop) == content[start:stop]
    await subject.store.delete(key)


async def test_an_empty_blob_is_stored_and_reads_back_empty(subject: Subject) -> None:
    key = a_key()
    assert await subject.store.put(key, chunks_of(b"")) == 0
    assert await read_all(subject.store, key) == b""
    assert await read_all(subject.store, key, start=0, stop=10) == b""


async def test_a_range_must_not_start_before_zero_or_stop_before_its_start(
    subject: Subject,
) -> None:
    key = a_key()
    await subject.store.put(key, chunks_of(b"abc"))
    with pytest.raises(ValueError, match="byte range"):
        await read_all(subject.store, key, start=-1)
    with pytest.raises(ValueError, match="byte range"):
        await read_all(subject.store, key, start=2, stop=1)


async def test_reading_a_missing_key_raises_blob_not_found_whatever_the_range(
    subject: Subject,
) -> None:
    for span in [{}, {"start": 3}, {"start": 0, "stop": 10}, {"start": 4, "stop": 4}]:
        with pytest.raises(BlobNotFound):
            await read_all(subject.store, a_key(), **span)


# ---------------------------------------------------------------------------------------------
# Nothing half-written
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1000, PART_BYTES + MiB], ids=["small", "multipart"])
async def test_a_put_whose_source_fails_leaves_nothing_behind(subject: Subject, size: int) -> None:
    key, midway = a_key(), []
    with pytest.raises(ClientGone):
        await subject.store.put(
            key, failing_after(random_bytes(size), lambda: midway.extend(subject.leftovers(key)))
        )

    with pytest.raises(BlobNotFound):
        await read_all(subject.store, key)
    assert key not in await keys_older_than(subject.store, FAR_FUTURE)
    assert subject.leftovers(key) == []
    if size > PART_BYTES:
        assert midway, "the store should have been holding a temporary or an upload midway"


@pytest.mark.parametrize("how", ["task", "anyio"])
async def test_a_put_cancelled_midway_leaves_nothing_behind(subject: Subject, how: str) -> None:
    """`task`: one Task.cancel(). `anyio`: a cancel scope (how Starlette cancels work when a
    client goes), which cancels again at every await, cleanup included, until it ends."""
    key, sent, never = a_key(), asyncio.Event(), asyncio.Event()

    async def stalled() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(random_bytes(PART_BYTES + MiB), MiB):
            yield chunk
        sent.set()
        await never.wait()  # the client stalls, then disconnects: the request is cancelled
        yield b"never"

    midway: list[str] = []
    if how == "task":
        upload = asyncio.create_task(subject.store.put(key, stalled()))
        await asyncio.wait_for(sent.wait(), timeout=30)
        midway = subject.leftovers(key)
        upload.cancel()
        with pytest.raises(asyncio.CancelledError):
            await upload
    else:
        async with anyio.create_task_group() as group:
            group.start_soon(subject.store.put, key, stalled())
            with anyio.fail_after(30):
                await sent.wait()
            midway = subject.leftovers(key)
            group.cancel_scope.cancel()

    assert midway, "the store should have been holding a temporary or an upload"
    assert subject.leftovers(key) == []
    with pytest.raises(BlobNotFound):
        await read_all(subject.store, key)


@pytest.mark.parametrize("size", [1000, PART_BYTES + MiB], ids=["small", "multipart"])
async def test_a_failed_overwrite_leaves_the_old_blob_intact(subject: Subject, size: int) -> None:
    key, old = a_key(), random_bytes(3 * MiB, seed=1)
    await subject.store.put(key, chunks_of(old))
    with pytest.raises(ClientGone):
        await subject.store.put(key, failing_after(random_bytes(size, seed=2)))
    assert await read_all(subject.store, key) == old
    assert subject.leftovers(key) == []


async def test_an_overwrite_replaces_the_whole_blob(subject: Subject) -> None:
    key = a_key()
    await subject.store.put(key, chunks_of(random_bytes(3 * MiB)))
    await subject.store.put(key, chunks_of(b"short"))
    assert await read_all(subject.store, key) == b"short"


async def test_a_read_begun_before_an_overwrite_yields_only_the_old_bytes(
    subject: Subject,
) -> None:
    key, old, new = a_key(), random_bytes(2 * MiB, seed=1), random_bytes(2 * MiB, seed=2)
    await subject.store.put(key, chunks_of(old))
    reader = subject.store.read(key)
    first = await anext(reader)
    await subject.store.put(key, chunks_of(new))
    rest = b"".join([chunk async for chunk in reader])
    assert first + rest == old
    assert await read_all(subject.store, key) == new


# ---------------------------------------------------------------------------------------------
# Delete and list
# ---------------------------------------------------------------------------------------------
async def test_deleting_is_idempotent_and_the_blob_is_gone(subject: Subject) -> None:
    key = a_key()
    await subject.store.delete(key)  # never stored: no error
    await subject.store.put(key, chunks_of(b"bytes"))
    await subject.store.delete(key)
    await subject.store.delete(key)
    with pytest.raises(BlobNotFound):
        await read_all(subject.store, key)
    assert key not in await keys_older_than(subject.store, FAR_FUTURE)


async def test_listing_yields_only_blobs_modified_before_the_cutoff(subject: Subject) -> None:
    old, new = a_key(), a_key()
    await subject.store.put(old, chunks_of(b"old bytes"))
    cutoff = datetime.now(UTC)
    # S3 keeps LastModified to the second: the new blob must land in a later second.
    await asyncio.sleep(1.05 - time.time() % 1)
    await subject.store.put(new, chunks_of(b"new"))

    listed = {info.key: info async for info in subject.store.list(older_than=cutoff)}
    assert old in listed and new not in listed
    assert listed[old].size == len(b"old bytes")
    assert listed[old].modified_at.utcoffset() == timedelta(0)
    assert cutoff - timedelta(minutes=1) < listed[old].modified_at < cutoff
    assert {old, new} & await keys_older_than(subject.store, cutoff - timedelta(minutes=1)) == set()
    assert {old, new} <= await keys_older_than(subject.store, FAR_FUTURE)


# ---------------------------------------------------------------------------------------------
# Bounded memory
# ---------------------------------------------------------------------------------------------
def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux 4.0+)
    except OSError:
        pytest.skip("the peak RSS cannot be reset here (/proc/self/clear_refs)")


async def test_a_64_mib_blob_streams_in_and_out_without_growing_memory_by_more_than_20_mb(
    subject: Subject,
) -> None:
    key, written = a_key(), hashlib.sha256()

    async def generated() -> AsyncIterator[bytes]:
        for _ in range(64 * 16):
            chunk = os.urandom(64 * 1024)
            written.update(chunk)
            yield chunk

    _reset_peak_rss()
    before = _kib("VmRSS")
    assert await subject.store.put(key, generated()) == 64 * MiB
    read = hashlib.sha256()
    async for chunk in subject.store.read(key):
        read.update(chunk)
    grown_mb = (_kib("VmHWM") - before) / 1024
    await subject.store.delete(key)

    assert read.digest() == written.digest()
    assert grown_mb < 20, f"the peak RSS grew by {grown_mb:.1f} MiB"


# ---------------------------------------------------------------------------------------------
# Adapter specifics: what a key may be on disk; what an unreachable store raises
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../outside",
        "attachments/../../outside",
        "a//b",
        "a/",
        ".hidden",
        "attachments/.x.1234.part",
        "a/./b",
        "a\\b",
        "a\x00b",
    ],
)
async def test_the_filesystem_store_refuses_a_key_that_could_leave_its_root_or_hide(
    tmp_path: Path, key: str
) -> None:
    store = FileSystemBlobStore(str(tmp_path / "blobs"))
    with pytest.raises(ValueError, match="not a blob key"):
        await store.put(key, chunks_of(b"x"))
    with pytest.raises(ValueError, match="not a blob key"):
        await read_all(store, key)
    with pytest.raises(ValueError, match="not a blob key"):
        await store.delete(key)
    assert list(tmp_path.rglob("*")) == []


async def test_the_filesystem_store_lists_no_temporary_a_crash_left(tmp_path: Path) -> None:
    store = FileSystemBlobStore(str(tmp_path))
    await store.put("attachments/kept", chunks_of(b"x"))
    lost = tmp_path / "attachments" / ".lost.0123abcd.part"
    lost.write_bytes(b"half")
    assert await keys_older_than(store, datetime.now(UTC) - timedelta(hours=1)) == set()
    assert lost.exists()  # young: it may be a put still under way
    assert await keys_older_than(store, FAR_FUTURE) == {"attachments/kept"}
    assert not lost.exists()  # abandoned before the sweep's horizon: removed on the way


async def test_the_filesystem_store_reports_a_broken_directory_as_unavailable(
    tmp_path: Path,
) -> None:
    root = tmp_path / "not-a-directory"
    root.write_bytes(b"")
    store = FileSystemBlobStore(str(root))
    with pytest.raises(DependencyUnavailable):
        await store.put("attachments/x", chunks_of(b"x"))
    with pytest.raises(DependencyUnavailable):
        await keys_older_than(store, FAR_FUTURE)


async def test_an_unreachable_s3_store_raises_dependency_unavailable() -> None:
    store = S3BlobStore(
        "nowhere", endpoint_url="http://127.0.0.1:9", timeout=1, attempts=1, **S3_CREDENTIALS
    )
    await store.start()
    try:
        with pytest.raises(DependencyUnavailable):
            await store.put(a_key(), chunks_of(b"x"))
        with pytest.raises(DependencyUnavailable):
            await read_all(store, a_key())
        with pytest.raises(DependencyUnavailable):
            await store.delete(a_key())
        with pytest.raises(DependencyUnavailable):
            await keys_older_than(store, FAR_FUTURE)
    finally:
        await store.close()


async def test_a_missing_bucket_raises_dependency_unavailable_not_blob_not_found(
    s3_bucket: Bucket,
) -> None:
    store = S3BlobStore("no-such-bucket-here", endpoint_url=s3_bucket.endpoint, **S3_CREDENTIALS)
    await store.start()
    try:
        with pytest.raises(DependencyUnavailable, match="NoSuchBucket"):
            await store.put(a_key(), chunks_of(b"x"))
        with pytest.raises(DependencyUnavailable, match="NoSuchBucket"):
            await read_all(store, a_key())
    finally:
        await store.close()
