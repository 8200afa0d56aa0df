"""Removing stored bytes that no attachment claims any more: durable handlers (see
`application.messagebus`), so each is idempotent and may run twice.

- `remove` deletes the bytes of a deleted attachment (after `AttachmentDeleted`).
- `sweep` deletes orphans: bytes older than BLOB_ORPHAN_AGE_SECONDS with no record, which an
  upload leaves when its process dies between storing the bytes and committing the record.
  One sweep runs per period of BLOB_SWEEP_SECONDS: each enqueues the next, and every job
  runner enqueues the current one as it starts (so the chain survives a lost job). A period's
  job has an id derived from the period's start, and adding a job whose id is recorded
  changes nothing, so however many workers ask, one sweep runs per period.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from application.errors import DependencyUnavailable
from application.ports import Clock
from application.ports.blobs import BlobInfo, BlobStore
from application.ports.jobs import LeasedJob, NewJob
from application.ports.types import UnitOfWorkFactory
from application.snapshots import to_fields
from domain.attachments import attachment_id_of
from domain.events import AttachmentDeleted

log = logging.getLogger(__name__)

SWEEP_KIND = "blobs.sweep"
"""The sweep's job kind; the message bus's table names it (a kind must not change)."""
SWEEP_BATCH = 500
"""Blobs looked up against the records at a time: memory stays bounded however many."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SWEEP_IDS = uuid.UUID("4f6d1c0e-8a53-4f1e-9a57-2b3c7d5e9f10")  # namespace of sweep job ids


@dataclass(frozen=True, slots=True)
class SweepOrphanBlobs:
    """The sweep of the period that starts at `period_start` (a job, deferred to a worker)."""

    period_start: datetime


def sweep_job_id(period_start: datetime) -> uuid.UUID:
    """The one job id of the sweep of the period starting at `period_start`."""
    return uuid.uuid5(_SWEEP_IDS, f"{SWEEP_KIND}/{period_start.astimezone(UTC).isoformat()}")


class BlobCleanup:
    """Durable handlers that remove stored bytes no record claims."""

    def __init__(
        self,
        blobs: BlobStore,
        uow: UnitOfWorkFactory,
        clock: Clock,
        orphan_age_seconds: float,
        sweep_seconds: float,
    ) -> None:
        if min(orphan_age_seconds, sweep_seconds) <= 0:
            raise ValueError("orphan_age_seconds and sweep_seconds must be positive")
        self._blobs, self._uow, self._clock = blobs, uow, clock
        self._orphan_age = timedelta(seconds=orphan_age_seconds)
        self._period = timedelta(seconds=sweep_seconds)

    async def remove(self, event: AttachmentDeleted, job: LeasedJob) -> None:
        """Delete the bytes of a deleted attachment; bytes already gone are no error."""
        await self._blobs.delete(event.blob_key)

    async def sweep(self, cmd: SweepOrphanBlobs, job: LeasedJob) -> None:
        """Delete every attachment blob older than the orphan age that has no record, then
        enqueue the sweep of the next period. Raises DependencyUnavailable (the job is then
        retried; what it deleted stays deleted)."""
        now = self._clock.now()
        older_than = now - self._orphan_age
        batch: list[BlobInfo] = []
        removed = 0
        async for blob in self._blobs.list(older_than=older_than):
            batch.append(blob)
            if len(batch) >= SWEEP_BATCH:
                removed += await self._remove_orphans(batch)
                batch = []
        removed += await self._remove_orphans(batch)
        if removed:
            log.info("orphan sweep removed %d blobs no attachment claims", removed)
        # The period after this one, or, for a sweep run late, the one after now: no backlog.
        await self._enqueue(max(cmd.period_start, self._period_containing(now)) + self._period)

    async def schedule_sweep(self) -> bool:
        """Enqueue the current period's sweep (a job runner calls this as it starts): due at
        once, and a no-op if it was enqueued already. An unreachable queue is logged, not
        raised: the sweep chain goes on from the last sweep, or from the next start. Returns
        whether it was written."""
        try:
            await self._enqueue(self._period_containing(self._clock.now()))
        except DependencyUnavailable as exc:
            log.warning("could not enqueue the orphan sweep (%s); a later start will", exc)
            return False
        return True

    async def _remove_orphans(self, blobs: list[BlobInfo]) -> int:
        """Delete those of `blobs` that are attachments' bytes with no record; how many."""
        ids = {blob.key: attachment_id_of(blob.key) for blob in blobs}
        # Keys this service did not make are not its to delete (a shared bucket).
        candidates = {key: found for key, found in ids.items() if found is not None}
        if not candidates:
            return 0
        async with self._uow() as uow:
            recorded = await uow.attachments.existing(set(candidates.values()))
        orphans = [key for key, found in candidates.items() if found not in recorded]
        for key in orphans:
            await self._blobs.delete(key)
        return len(orphans)

    async def _enqueue(self, period_start: datetime) -> None:
        job = NewJob(
            sweep_job_id(period_start),
            SWEEP_KIND,
            to_fields(SweepOrphanBlobs(period_start)),
            run_after=period_start,
        )
        async with self._uow() as uow:
            await uow.jobs.add(job, now=self._clock.now())
            await uow.commit()

    def _period_containing(self, moment: datetime) -> datetime:
        """The start of the sweep period `moment` falls in (periods count from the epoch)."""
        return _EPOCH + (moment - _EPOCH) // self._period * self._period
