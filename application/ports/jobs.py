"""The job queue ports: durable work written with the change that causes it, run by a worker.

The queue *is* the transactional outbox: a unit of work adds jobs (`uow.jobs`) in the same
transaction as the change, so a crash between the two cannot lose one, and workers lease
them from the same store. Every time is given by the caller (from the `Clock`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from uuid import UUID

JobState = Literal["waiting", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("waiting", "running", "done", "failed")

Payload = Mapping[str, object]
"""A job's arguments: JSON-compatible values only (str, int, float, bool, None, lists, dicts)."""


@dataclass(frozen=True, slots=True)
class NewJob:
    """A job to record: which handler runs it (`kind`), with what, and not before when."""

    id: UUID
    kind: str
    payload: Payload
    run_after: datetime


@dataclass(frozen=True, slots=True)
class LeasedJob:
    """A job a worker holds until `leased_until`; `attempt` counts from 1 and includes this one.

    `lease` identifies this lease: a worker whose lease expired and was taken over can no
    longer complete, fail or extend the job.
    """

    id: UUID
    kind: str
    payload: Payload
    attempt: int
    lease: str
    leased_until: datetime


@dataclass(frozen=True, slots=True)
class JobRecord:
    """What an operator sees of a job (`portico jobs list`)."""

    id: UUID
    kind: str
    state: JobState
    attempts: int
    run_after: datetime
    created_at: datetime
    updated_at: datetime
    last_error: str | None = None
    payload: Payload = field(default_factory=dict)


class JobOutbox(Protocol):
    """The unit of work's side of the queue: jobs written in its transaction."""

    async def add(self, job: NewJob, *, now: datetime) -> None:
        """Record `job` as waiting; it exists only if the unit of work commits.

        Adding a job whose id is already recorded changes nothing (a retried request).
        """
        ...


class JobQueue(Protocol):
    """The workers' side of the queue. Each method is its own short transaction, and each
    raises DependencyUnavailable when the store is unreachable (DependencyBusy when it only
    has no connection free in time)."""

    async def lease(self, *, worker: str, now: datetime, lease_seconds: float) -> LeasedJob | None:
        """Take the next due job for `lease_seconds`: the oldest waiting job whose `run_after`
        has come, or a running job whose lease has expired (its worker died). Counts the
        attempt. Concurrent callers never get the same job. None when nothing is due.
        `worker` names the holder in the lease (for operators); each lease is new.

        Raises DependencyUnavailable when the store is unreachable.
        """
        ...

    async def extend(
        self, job: LeasedJob, *, now: datetime, lease_seconds: float
    ) -> LeasedJob | None:
        """Keep holding `job` for `lease_seconds` more; None if its lease was lost."""
        ...

    async def complete(self, job: LeasedJob, *, now: datetime) -> bool:
        """Mark the job done; False (and nothing changes) if its lease was lost."""
        ...

    async def fail(
        self, job: LeasedJob, *, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """Record a failed attempt: waiting again from `retry_at`, or `failed` for good when
        `retry_at` is None. `error` is kept (cut to 2,000 characters). False if the lease was lost.
        """
        ...

    async def release(self, job: LeasedJob, *, now: datetime) -> bool:
        """Hand the job back unfinished (a worker shutting down): waiting again at once, and
        this attempt does not count. False if the lease was lost."""
        ...

    async def list(self, *, state: JobState | None, limit: int) -> list[JobRecord]:
        """Jobs in `state` (any state if None), newest first, at most `limit`."""
        ...

    async def count(self, state: JobState) -> int:
        """How many jobs are in `state` now (`waiting` includes those waiting for a retry)."""
        ...

    async def retry(self, job_id: UUID, *, now: datetime) -> JobRecord:
        """Send a failed job back to the queue: waiting at once, attempts reset to 0.

        Raises JobNotFound for an unknown id and JobNotFailed for a job in another state.
        """
        ...
