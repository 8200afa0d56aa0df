"""In-memory job queue: jobs staged with the unit of work, leased from the committed ones.

Queue methods never await while they read and change the store, so each is atomic within the
event loop: concurrent workers cannot take the same job, as with the SQL adapter.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

from application.errors import JobNotFailed, JobNotFound
from application.ports.jobs import JobRecord, JobState, LeasedJob, NewJob

ERROR_LIMIT = 2_000


@dataclass(frozen=True, slots=True)
class StoredJob:
    """A job as the store keeps it: the columns of the SQL `jobs` table, payload as JSON."""

    id: UUID
    kind: str
    payload: str
    state: JobState
    attempts: int
    run_after: datetime
    created_at: datetime
    updated_at: datetime
    leased_until: datetime | None = None
    lease: str | None = None
    last_error: str | None = None


class StagedJobs:
    """Jobs added in a transaction, over the committed ones."""

    def __init__(self, committed: dict[UUID, StoredJob]) -> None:
        self.committed = committed
        self.added: dict[UUID, StoredJob] = {}

    def apply(self) -> None:
        for job_id, job in self.added.items():
            self.committed.setdefault(job_id, job)
        self.added.clear()

    def discard(self) -> None:
        self.added.clear()


class InMemoryJobOutbox:
    """JobOutbox staging its jobs until the unit of work commits."""

    def __init__(self, jobs: StagedJobs) -> None:
        self._jobs = jobs

    async def add(self, job: NewJob, *, now: datetime) -> None:
        if job.id in self._jobs.committed or job.id in self._jobs.added:
            return
        payload = json.dumps(job.payload, separators=(",", ":"))  # refuses what SQL would
        self._jobs.added[job.id] = StoredJob(
            job.id, job.kind, payload, "waiting", 0, job.run_after, now, now
        )


class _HoldsJobs(Protocol):
    jobs: dict[UUID, StoredJob]


class InMemoryJobQueue:
    """JobQueue over the committed jobs of a MemoryStore."""

    def __init__(self, store: _HoldsJobs) -> None:
        self._jobs = store.jobs

    async def lease(self, *, worker: str, now: datetime, lease_seconds: float) -> LeasedJob | None:
        job = self._abandoned(now) or self._due(now)
        if job is None:
            return None
        held = f"{worker[:160]}/{uuid4().hex}"
        until = now + timedelta(seconds=lease_seconds)
        self._jobs[job.id] = dataclasses.replace(
            job,
            state="running",
            attempts=job.attempts + 1,
            lease=held,
            leased_until=until,
            updated_at=now,
        )
        return LeasedJob(job.id, job.kind, json.loads(job.payload), job.attempts + 1, held, until)

    def _abandoned(self, now: datetime) -> StoredJob | None:
        expired = [
            job
            for job in self._jobs.values()
            if job.state == "running" and job.leased_until is not None and job.leased_until <= now
        ]
        return min(expired, key=lambda job: (job.leased_until, job.id), default=None)

    def _due(self, now: datetime) -> StoredJob | None:
        due = [
            job for job in self._jobs.values() if job.state == "waiting" and job.run_after <= now
        ]
        return min(due, key=lambda job: (job.run_after, job.id), default=None)

    async def extend(
        self, job: LeasedJob, *, now: datetime, lease_seconds: float
    ) -> LeasedJob | None:
        until = now + timedelta(seconds=lease_seconds)
        if not self._change(job, leased_until=until, updated_at=now):
            return None
        return dataclasses.replace(job, leased_until=until)

    async def complete(self, job: LeasedJob, *, now: datetime) -> bool:
        return self._change(job, state="done", **_let_go(now))

    async def fail(
        self, job: LeasedJob, *, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        error = error[:ERROR_LIMIT]
        if retry_at is None:
            return self._change(job, state="failed", last_error=error, **_let_go(now))
        return self._change(
            job, state="waiting", run_after=retry_at, last_error=error, **_let_go(now)
        )

    async def release(self, job: LeasedJob, *, now: datetime) -> bool:
        stored = self._jobs.get(job.id)
        attempts = 0 if stored is None else stored.attempts - 1
        return self._change(job, state="waiting", attempts=attempts, **_let_go(now))

    def _change(self, job: LeasedJob, **values: object) -> bool:
        """Change the job only while `job`'s lease still holds it; whether it did."""
        stored = self._jobs.get(job.id)
        if stored is None or stored.state != "running" or stored.lease != job.lease:
            return False
        self._jobs[job.id] = dataclasses.replace(stored, **values)  # type: ignore[arg-type]
        return True

    async def list(self, *, state: JobState | None, limit: int) -> list[JobRecord]:
        found = [job for job in self._jobs.values() if state is None or job.state == state]
        found.sort(key=lambda job: (job.created_at, job.id), reverse=True)
        return [_record(job) for job in found[:limit]]

    async def count(self, state: JobState) -> int:
        return sum(1 for job in self._jobs.values() if job.state == state)

    async def retry(self, job_id: UUID, *, now: datetime) -> JobRecord:
        stored = self._jobs.get(job_id)
        if stored is None:
            raise JobNotFound(f"no job {job_id}")
        if stored.state != "failed":
            raise JobNotFailed(f"job {job_id} is {stored.state}, not failed")
        retried = dataclasses.replace(
            stored, state="waiting", attempts=0, run_after=now, updated_at=now
        )
        self._jobs[job_id] = retried
        return _record(retried)


def _let_go(now: datetime) -> dict[str, object]:
    return {"lease": None, "leased_until": None, "updated_at": now}


def _record(job: StoredJob) -> JobRecord:
    return JobRecord(
        id=job.id,
        kind=job.kind,
        state=job.state,
        attempts=job.attempts,
        run_after=job.run_after,
        created_at=job.created_at,
        updated_at=job.updated_at,
        last_error=job.last_error,
        payload=json.loads(job.payload),
    )
