"""Attachment use cases on the in-memory adapters: bytes before records, limits before reading,
and stored bytes removed by jobs (deletions) and by the orphan sweep."""

import hashlib
import json
from datetime import timedelta

import pytest

from adapters.memory.unit_of_work import InMemoryUnitOfWork
from application.errors import (
    AttachmentLimitReached,
    AttachmentNotFound,
    DependencyUnavailable,
    EmptyUpload,
    ItemNotFound,
    UploadTooLarge,
)
from application.ports.jobs import LeasedJob
from application.use_cases.attachments.blob_cleanup import (
    SWEEP_KIND,
    BlobCleanup,
    SweepOrphanBlobs,
    sweep_job_id,
)
from application.use_cases.attachments.delete_attachment import (
    DeleteAttachment,
    DeleteAttachmentHandler,
)
from application.use_cases.attachments.download_attachment import (
    DownloadAttachment,
    DownloadAttachmentHandler,
)
from application.use_cases.attachments.get_attachment import GetAttachment, GetAttachmentHandler
from application.use_cases.attachments.list_attachments import (
    ListAttachments,
    ListAttachmentsHandler,
)
from application.use_cases.attachments.upload_attachment import (
    AttachmentLimits,
    UploadAttachment,
    UploadAttachmentHandler,
)
from application.use_cases.items.delete_item import DeleteItem, DeleteItemHandler
from application.use_cases.users.delete_user import DeleteUser, DeleteUserHandler
from domain.attachments import blob_key
from domain.ids import new_id
from tests.unit.application.test_items import _create

HOUR = 3600


async def _content(*parts, closed=None):
    try:
        for part in parts:
            yield part
    finally:
        if closed is not None:
            closed.append(True)


class Untouchable:
    """Content that fails the test the moment anything starts reading it."""

    def __aiter__(self):
        raise AssertionError("the upload was read")


def _uploader(world, *, max_bytes=1_000, max_per_item=20, uow=None):
    limits = AttachmentLimits(max_bytes, max_per_item)
    return UploadAttachmentHandler(uow or world.uow, world.blobs, world.clock, limits)


async def _upload(world, actor, item, *parts, name="notes.txt", content_type="text/plain"):
    cmd = UploadAttachment(actor, item.id, name, content_type, _content(*parts))
    return await _uploader(world)(cmd)


def _jobs(world, kind):
    return [job for job in world.store.jobs.values() if job.kind == kind]


def _leased(stored):
    return LeasedJob(
        stored.id, stored.kind, json.loads(stored.payload), 1, "test", stored.run_after
    )


def _leased_sweep(world):
    now = world.clock.now()
    return LeasedJob(new_id(now), SWEEP_KIND, {}, 1, "test", now)


async def test_upload_stores_the_bytes_before_the_record_and_returns_what_was_counted(world):
    ada = await world.register()
    item = await _create(world, ada)
    rows_while_storing = []
    put = world.blobs.put

    async def put_and_look(key, chunks):
        size = await put(key, chunks)
        rows_while_storing.append(dict(world.store.attachments))
        return size

    world.blobs.put = put_and_look
    view = await _upload(world, ada, item, b"hello ", b"", b"world", name="../../x/a.txt")
    assert rows_while_storing == [{}]
    assert world.blobs.data(blob_key(view.id)) == b"hello world"
    assert (view.item_id, view.filename, view.content_type) == (item.id, "a.txt", "text/plain")
    assert (view.size, view.sha256) == (11, hashlib.sha256(b"hello world").hexdigest())
    assert list(world.store.attachments) == [view.id]


async def test_an_upload_past_the_limit_stops_reading_and_leaves_no_bytes_and_no_record(world):
    ada = await world.register()
    item = await _create(world, ada)
    closed = []

    async def endless():
        try:
            while True:
                yield b"x" * 400
        finally:
            closed.append(True)

    with pytest.raises(UploadTooLarge):
        await _uploader(world)(UploadAttachment(ada, item.id, "big", None, endless()))
    assert world.blobs.blobs == {} and world.store.attachments == {}
    assert closed == [True]  # the client's stream was let go at once


async def test_an_upload_of_exactly_the_limit_is_accepted(world):
    ada = await world.register()
    item = await _create(world, ada)
    view = await _uploader(world, max_bytes=10)(
        UploadAttachment(ada, item.id, "ten", None, _content(b"12345", b"67890"))
    )
    assert (view.size, view.content_type) == (10, "application/octet-stream")


@pytest.mark.parametrize("parts", [(), (b"",), (b"", b"")])
async def test_an_empty_upload_raises_empty_upload_and_keeps_nothing(world, parts):
    ada = await world.register()
    item = await _create(world, ada)
    with pytest.raises(EmptyUpload):
        await _upload(world, ada, item, *parts)
    assert world.blobs.blobs == {} and world.store.attachments == {}


async def test_an_upload_to_another_users_item_is_item_not_found_before_a_byte_is_read(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    item = await _create(world, ada)
    for target in (item.id, new_id(world.clock.now())):
        with pytest.raises(ItemNotFound):
            await _uploader(world)(UploadAttachment(bob, target, "f", None, Untouchable()))
    assert world.blobs.blobs == {}


async def test_a_superuser_uploads_to_anyones_item_and_the_owner_stays_the_items(world):
    ada, root = await world.register("ada@x.io"), await world.register("r@x.io", superuser=True)
    item = await _create(world, ada)
    view = await _upload(world, root, item, b"by root")
    assert world.store.attachments[view.id].owner_id == ada.user_id


async def test_a_full_item_refuses_another_upload_before_a_byte_is_read(world):
    ada = await world.register()
    item = await _create(world, ada)
    upload = _uploader(world, max_per_item=2)
    for n in range(2):
        await upload(UploadAttachment(ada, item.id, f"f{n}", None, _content(b"x")))
    with pytest.raises(AttachmentLimitReached):
        await upload(UploadAttachment(ada, item.id, "one too many", None, Untouchable()))
    assert len(world.blobs.blobs) == len(world.store.attachments) == 2


async def test_the_limit_is_checked_again_when_recording_after_the_bytes_are_stored(world):
    ada = await world.register()
    item = await _create(world, ada)

    async def racing_upload():  # another upload lands while this one streams
        yield b"mine"
        await _uploader(world, max_per_item=1)(
            UploadAttachment(ada, item.id, "theirs", None, _content(b"theirs"))
        )

    with pytest.raises(AttachmentLimitReached):
        await _uploader(world, max_per_item=1)(
            UploadAttachment(ada, item.id, "mine", None, racing_upload())
        )
    [kept] = world.store.attachments.values()
    assert kept.filename == "theirs" and list(world.blobs.blobs) == [kept.blob_key]


class FailingCommit(InMemoryUnitOfWork):
    """A unit of work whose commit fails: the database went away."""

    async def _commit(self):
        raise DependencyUnavailable("the database is unavailable")


class LostCommitAnswer(InMemoryUnitOfWork):
    """A unit of work whose commit succeeds but whose answer is lost on the way back."""

    async def _commit(self):
        await super()._commit()
        raise DependencyUnavailable("the database connection was lost")


async def test_a_failing_commit_after_storing_deletes_the_stored_bytes(world):
    ada = await world.register()
    item = await _create(world, ada)
    failing = _uploader(world, uow=lambda: FailingCommit(world.store, world.messagebus))
    with pytest.raises(DependencyUnavailable):
        await failing(UploadAttachment(ada, item.id, "f", None, _content(b"bytes")))
    assert world.blobs.blobs == {} and world.store.attachments == {}
    assert [key.startswith("attachments/") for key in world.blobs.deleted] == [True]


async def test_bytes_whose_record_was_committed_after_all_are_kept(world):
    ada = await world.register()
    item = await _create(world, ada)
    lost = _uploader(world, uow=lambda: LostCommitAnswer(world.store, world.messagebus))
    with pytest.raises(DependencyUnavailable):
        await lost(UploadAttachment(ada, item.id, "f", None, _content(b"bytes")))
    [recorded] = world.store.attachments.values()
    assert world.blobs.data(recorded.blob_key) == b"bytes"


async def test_list_get_and_download_reach_attachments_through_their_item(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    item = await _create(world, ada)
    first = await _upload(world, ada, item, b"0123456789", name="first")
    world.clock.advance(1)
    second = await _upload(world, ada, item, b"second", name="second")
    listed = await ListAttachmentsHandler(world.uow)(ListAttachments(ada, item.id))
    assert listed == [first, second]
    got = await GetAttachmentHandler(world.uow)(GetAttachment(ada, item.id, first.id))
    assert got == first
    download = await DownloadAttachmentHandler(world.uow, world.blobs)(
        DownloadAttachment(ada, item.id, first.id)
    )
    assert download.attachment == first
    assert b"".join([c async for c in download.read()]) == b"0123456789"
    assert b"".join([c async for c in download.read(2, 5)]) == b"234"
    assert b"".join([c async for c in download.read(7)]) == b"789"
    with pytest.raises(ValueError, match="outside"):
        download.read(3, 11)
    with pytest.raises(ItemNotFound):
        await ListAttachmentsHandler(world.uow)(ListAttachments(bob, item.id))
    with pytest.raises(ItemNotFound):
        await GetAttachmentHandler(world.uow)(GetAttachment(bob, item.id, first.id))


async def test_an_attachment_of_another_item_is_attachment_not_found(world):
    ada = await world.register()
    item, other = await _create(world, ada), await _create(world, ada, "other")
    view = await _upload(world, ada, item, b"x")
    with pytest.raises(AttachmentNotFound):
        await GetAttachmentHandler(world.uow)(GetAttachment(ada, other.id, view.id))
    with pytest.raises(AttachmentNotFound):
        await DeleteAttachmentHandler(world.uow, world.clock)(
            DeleteAttachment(ada, other.id, view.id)
        )
    assert list(world.store.attachments) == [view.id]


async def test_delete_writes_a_removal_job_whose_runs_remove_the_bytes_and_may_repeat(world):
    ada = await world.register()
    item = await _create(world, ada)
    view = await _upload(world, ada, item, b"doomed")
    await DeleteAttachmentHandler(world.uow, world.clock)(DeleteAttachment(ada, item.id, view.id))
    assert world.store.attachments == {}
    [job] = _jobs(world, "blobs.remove")
    assert json.loads(job.payload)["blob_key"] == blob_key(view.id)
    assert world.blobs.data(blob_key(view.id)) == b"doomed"  # until the job runs
    await world.run_jobs()
    assert world.blobs.blobs == {}
    remove = world.messagebus.job_handlers()["blobs.remove"]
    await remove(_leased(job))  # a repeated run (its worker died before recording it)
    assert world.blobs.blobs == {}


async def test_deleting_an_item_writes_a_removal_job_for_each_of_its_attachments(world):
    ada = await world.register()
    item, kept = await _create(world, ada), await _create(world, ada, "kept")
    doomed = [await _upload(world, ada, item, b"%d" % n) for n in range(3)]
    survivor = await _upload(world, ada, kept, b"kept")
    await DeleteItemHandler(world.uow, world.clock)(DeleteItem(ada, item.id))
    removals = {json.loads(job.payload)["blob_key"] for job in _jobs(world, "blobs.remove")}
    assert removals == {blob_key(view.id) for view in doomed}
    assert list(world.store.attachments) == [survivor.id]
    await world.run_jobs()
    assert list(world.blobs.blobs) == [blob_key(survivor.id)]


async def test_deleting_a_user_writes_a_removal_job_for_every_attachment_of_every_item(world):
    ada, bob = await world.register("ada@x.io"), await world.register("bob@x.io")
    items = [await _create(world, ada, f"item {n}") for n in range(3)]
    doomed = [await _upload(world, ada, item, b"ada's") for item in items for _ in range(2)]
    bobs = await _upload(world, bob, await _create(world, bob), b"bob's")
    await DeleteUserHandler(world.uow, world.revoker, world.clock)(DeleteUser(ada))
    removals = {json.loads(job.payload)["blob_key"] for job in _jobs(world, "blobs.remove")}
    assert removals == {blob_key(view.id) for view in doomed}
    await world.run_jobs()
    assert list(world.blobs.blobs) == [blob_key(bobs.id)]
    assert list(world.store.attachments) == [bobs.id]


async def test_the_sweep_removes_old_orphans_only(world):
    ada = await world.register()
    item = await _create(world, ada)
    old_orphan = blob_key(new_id(world.clock.now()))
    await world.blobs.put(old_orphan, _content(b"left by a crash"))
    await world.blobs.put("other/not-ours", _content(b"someone else's"))
    recorded = await _upload(world, ada, item, b"recorded")
    world.clock.advance(HOUR + 1)
    young_orphan = blob_key(new_id(world.clock.now()))
    await world.blobs.put(young_orphan, _content(b"an upload still being recorded"))
    period = world.clock.now()
    await world.blob_cleanup.sweep(SweepOrphanBlobs(period), _leased_sweep(world))
    assert set(world.blobs.blobs) == {"other/not-ours", blob_key(recorded.id), young_orphan}


async def test_the_sweep_looks_records_up_in_batches_and_removes_every_orphan(world):
    for _ in range(1_234):
        await world.blobs.put(blob_key(new_id(world.clock.now())), _content(b"x"))
    world.clock.advance(HOUR + 1)
    await world.blob_cleanup.sweep(SweepOrphanBlobs(world.clock.now()), _leased_sweep(world))
    assert world.blobs.blobs == {}


async def test_the_sweep_is_enqueued_once_per_period_however_many_workers_ask(world):
    world.clock.advance(HOUR * 10 + 5)
    workers = [BlobCleanup(world.blobs, world.uow, world.clock, HOUR, HOUR) for _ in range(3)]
    for worker in workers:
        assert await worker.schedule_sweep()
    world.clock.advance(60)
    await workers[0].schedule_sweep()
    [job] = _jobs(world, SWEEP_KIND)
    period = world.clock.now().replace(minute=0, second=0, microsecond=0)
    assert (job.id, job.run_after) == (sweep_job_id(period), period)
    assert await world.run_jobs() == 1  # the sweep ran, and enqueued the next period's
    waiting = [j for j in _jobs(world, SWEEP_KIND) if j.state == "waiting"]
    assert [(j.id, j.run_after) for j in waiting] == [
        (sweep_job_id(period + timedelta(hours=1)), period + timedelta(hours=1))
    ]
    for worker in workers:
        await worker.schedule_sweep()
    assert len(_jobs(world, SWEEP_KIND)) == 2


async def test_a_late_sweep_enqueues_the_period_after_now_not_a_backlog(world):
    period = world.clock.now()
    world.clock.advance(HOUR * 5 + 30)
    await world.blob_cleanup.sweep(SweepOrphanBlobs(period), _leased_sweep(world))
    [job] = _jobs(world, SWEEP_KIND)
    assert job.run_after == period + timedelta(hours=6)


async def test_scheduling_the_sweep_with_the_queue_unreachable_is_logged_not_raised(world):
    cleanup = BlobCleanup(
        world.blobs, lambda: FailingCommit(world.store, world.messagebus), world.clock, HOUR, HOUR
    )
    assert await cleanup.schedule_sweep() is False
    assert _jobs(world, SWEEP_KIND) == []
