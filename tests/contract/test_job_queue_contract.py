"""JobOutbox and JobQueue: jobs written with a unit of work, leased by workers, on every adapter.

The `jobs` fixture follows `uow_factory` (conftest.py): the same class runs on memory, SQLite
and PostgreSQL, and the queue works on the store its units of work write to.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.memory.jobs import InMemoryJobQueue
from adapters.memory.store import MemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.sqlalchemy.jobs import SqlAlchemyJobQueue
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from application.errors import JobNotFailed, JobNotFound
from application.ports.jobs import JobQueue, JobRecord, LeasedJob, NewJob
from domain.events import DomainEvent
from tests.contract.builders import START, a_user, at
from tests.contract.databases import empty_engine

LEASE = 30.0
PAYLOAD = {"to": "ada@example.com", "attempt_id": 7, "parts": {"subject": "Hi", "tags": [1, 2]}}


class NoReactions:
    """Reactions that cause no job and hear nothing: the tests add their jobs themselves."""

    def outbox(self, messages: Sequence[object]) -> list[NewJob]:
        return []

    async def committed(self, events: Sequence[DomainEvent], jobs: Sequence[NewJob]) -> None:
        return None


@dataclass
class Jobs:
    """One store of the parametrised adapter: its units of work and its queue."""

    uow_factory: Callable[[], InMemoryUnitOfWork | SqlAlchemyUnitOfWork]
    queue: JobQueue

    async def add(self, *jobs: NewJob, now: datetime = START) -> None:
        """Record jobs in one committed unit of work."""
        async with self.uow_factory() as uow:
            for job in jobs:
                await uow.jobs.add(job, now=now)
            await uow.commit()

    async def lease(self, now: datetime = START, worker: str = "w1") -> LeasedJob | None:
        return await self.queue.lease(worker=worker, now=now, lease_seconds=LEASE)

    async def leased(self, now: datetime = START, worker: str = "w1") -> LeasedJob:
        job = await self.lease(now, worker)
        assert job is not None
        return job

    async def record(self, job_id: UUID) -> JobRecord:
        [found] = [r for r in await self.queue.list(state=None, limit=100) if r.id == job_id]
        return found


def a_job(kind: str = "send-mail", *, run_after: datetime = START, **payload: Any) -> NewJob:
    return NewJob(id=uuid4(), kind=kind, payload=payload or PAYLOAD, run_after=run_after)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Jobs]:
    """Units of work and a job queue over one empty store of the parametrised adapter."""
    if request.param == "memory":
        store = MemoryStore()
        yield Jobs(lambda: InMemoryUnitOfWork(store, NoReactions()), InMemoryJobQueue(store))
        return
    async with empty_engine(request, tmp_path) as engine:
        yield Jobs(lambda: SqlAlchemyUnitOfWork(engine, NoReactions()), SqlAlchemyJobQueue(engine))


class TestJobQueue:
    async def test_a_job_added_in_a_unit_of_work_that_rolls_back_never_runs(
        self, jobs: Jobs
    ) -> None:
        async with jobs.uow_factory() as uow:
            await uow.users.add(a_user())
            await uow.jobs.add(a_job(), now=START)

        assert await jobs.lease(at(3600)) is None
        assert await jobs.queue.list(state=None, limit=10) == []

    async def test_a_committed_job_is_leased_once_with_attempt_1(self, jobs: Jobs) -> None:
        job = a_job()
        async with jobs.uow_factory() as uow:
            await uow.users.add(a_user())
            await uow.jobs.add(job, now=START)
            await uow.commit()

        leased = await jobs.leased(at(1))

        assert (leased.id, leased.kind, leased.payload, leased.attempt) == (
            job.id,
            "send-mail",
            PAYLOAD,
            1,
        )
        assert leased.leased_until == at(1 + LEASE)
        assert await jobs.lease(at(2), worker="w2") is None
        record = await jobs.record(job.id)
        assert (record.state, record.attempts, record.created_at) == ("running", 1, START)

    async def test_a_job_is_not_leased_before_its_run_after(self, jobs: Jobs) -> None:
        job = a_job(run_after=at(60))
        await jobs.add(job)

        assert await jobs.lease(at(59)) is None
        assert (await jobs.leased(at(60))).id == job.id

    async def test_the_oldest_due_job_is_leased_first(self, jobs: Jobs) -> None:
        later, sooner = a_job(run_after=at(20)), a_job(run_after=at(10))
        await jobs.add(later, sooner)

        assert [(await jobs.leased(at(30))).id, (await jobs.leased(at(30))).id] == [
            sooner.id,
            later.id,
        ]

    async def test_an_expired_lease_is_taken_over_with_attempt_2_and_its_first_worker_is_shut_out(
        self, jobs: Jobs
    ) -> None:
        job = a_job()
        await jobs.add(job)
        first = await jobs.leased(START, "w1")

        assert await jobs.lease(at(LEASE - 1), "w2") is None
        second = await jobs.leased(at(LEASE), "w2")

        assert (second.id, second.attempt) == (job.id, 2)
        assert second.lease != first.lease
        later = at(LEASE + 1)
        assert await jobs.queue.complete(first, now=later) is False
        assert await jobs.queue.extend(first, now=later, lease_seconds=LEASE) is None
        assert await jobs.queue.fail(first, now=later, error="x", retry_at=None) is False
        assert await jobs.queue.release(first, now=later) is False
        assert await jobs.queue.complete(second, now=later) is True
        record = await jobs.record(job.id)
        assert (record.state, record.attempts, record.updated_at) == ("done", 2, later)

    async def test_an_extended_lease_keeps_the_job_from_other_workers(self, jobs: Jobs) -> None:
        await jobs.add(a_job())
        leased = await jobs.leased(START)

        extended = await jobs.queue.extend(leased, now=at(20), lease_seconds=LEASE)

        assert extended is not None
        assert (extended.lease, extended.leased_until) == (leased.lease, at(20 + LEASE))
        assert await jobs.lease(at(LEASE + 10), "w2") is None
        assert await jobs.queue.complete(extended, now=at(40)) is True

    async def test_concurrent_workers_lease_each_job_exactly_once(self, jobs: Jobs) -> None:
        added = [a_job(run_after=at(n)) for n in range(10)]
        await jobs.add(*added)
        taken: list[UUID] = []

        async def worker(name: str) -> None:
            while (job := await jobs.lease(at(60), name)) is not None:
                taken.append(job.id)
                await asyncio.sleep(0)
                assert await jobs.queue.complete(job, now=at(61))

        await asyncio.gather(*(worker(f"w{n}") for n in range(4)))

        assert sorted(taken) == sorted(job.id for job in added)
        assert len(await jobs.queue.list(state="done", limit=100)) == 10

    async def test_a_job_failed_with_a_retry_time_waits_and_is_not_due_before_it(
        self, jobs: Jobs
    ) -> None:
        job = a_job()
        await jobs.add(job)
        leased = await jobs.leased(START)

        assert await jobs.queue.fail(leased, now=at(1), error="boom", retry_at=at(100))

        record = await jobs.record(job.id)
        assert (record.state, record.attempts, record.run_after) == ("waiting", 1, at(100))
        assert record.last_error == "boom"
        assert await jobs.lease(at(99)) is None
        assert (await jobs.leased(at(100))).attempt == 2

    async def test_a_job_failed_for_good_is_kept_and_listed_as_failed(self, jobs: Jobs) -> None:
        job, other = a_job(), a_job(run_after=at(1000))
        await jobs.add(job, other)
        leased = await jobs.leased(START)

        assert await jobs.queue.fail(leased, now=at(1), error="x" * 5000, retry_at=None)

        [record] = await jobs.queue.list(state="failed", limit=10)
        assert (record.id, record.state, record.attempts, record.payload) == (
            job.id,
            "failed",
            1,
            PAYLOAD,
        )
        assert record.last_error == "x" * 2000
        assert (await jobs.leased(at(10**6))).id == other.id
        assert await jobs.lease(at(10**6)) is None

    async def test_retry_sends_a_failed_job_back_to_wait_with_no_attempts(self, jobs: Jobs) -> None:
        job = a_job()
        await jobs.add(job)
        await jobs.queue.fail(await jobs.leased(START), now=at(1), error="e", retry_at=None)

        record = await jobs.queue.retry(job.id, now=at(5))

        assert (record.id, record.state, record.attempts, record.run_after) == (
            job.id,
            "waiting",
            0,
            at(5),
        )
        assert (await jobs.leased(at(5))).attempt == 1

    async def test_retry_of_a_job_that_has_not_failed_raises_job_not_failed(
        self, jobs: Jobs
    ) -> None:
        job = a_job()
        await jobs.add(job)

        with pytest.raises(JobNotFailed):
            await jobs.queue.retry(job.id, now=at(1))
        assert (await jobs.record(job.id)).state == "waiting"

    async def test_retry_of_an_unknown_job_raises_job_not_found(self, jobs: Jobs) -> None:
        with pytest.raises(JobNotFound):
            await jobs.queue.retry(uuid4(), now=START)

    async def test_a_released_job_waits_again_and_its_attempt_does_not_count(
        self, jobs: Jobs
    ) -> None:
        job = a_job()
        await jobs.add(job)
        leased = await jobs.leased(START)

        assert await jobs.queue.release(leased, now=at(1)) is True

        record = await jobs.record(job.id)
        assert (record.state, record.attempts) == ("waiting", 0)
        again = await jobs.leased(at(1), "w2")
        assert (again.id, again.attempt) == (job.id, 1)
        assert await jobs.queue.complete(leased, now=at(2)) is False

    async def test_adding_a_job_whose_id_is_recorded_changes_nothing(self, jobs: Jobs) -> None:
        job = a_job()
        twin = NewJob(id=job.id, kind="other", payload={"x": 1}, run_after=at(5))
        await jobs.add(job)
        await jobs.add(twin, now=at(1))
        async with jobs.uow_factory() as uow:
            fresh = a_job()
            await uow.jobs.add(fresh, now=at(2))
            await uow.jobs.add(fresh, now=at(2))
            await uow.commit()

        records = await jobs.queue.list(state=None, limit=10)
        assert [(r.id, r.kind, r.created_at) for r in records] == [
            (fresh.id, "send-mail", at(2)),
            (job.id, "send-mail", START),
        ]
        assert records[1].payload == PAYLOAD

    async def test_list_shows_the_newest_first_up_to_the_limit(self, jobs: Jobs) -> None:
        first, second, third = (a_job(run_after=at(n)) for n in range(3))
        for n, job in enumerate((first, second, third)):
            await jobs.add(job, now=at(n))
        await jobs.queue.complete(await jobs.leased(at(5)), now=at(6))

        newest = await jobs.queue.list(state=None, limit=2)
        waiting = await jobs.queue.list(state="waiting", limit=10)
        done = await jobs.queue.list(state="done", limit=10)

        assert [r.id for r in newest] == [third.id, second.id]
        assert [r.id for r in waiting] == [third.id, second.id]
        assert [r.id for r in done] == [first.id]
        assert await jobs.queue.list(state="failed", limit=10) == []
