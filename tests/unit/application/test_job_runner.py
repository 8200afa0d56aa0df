"""JobRunner: the worker loop, on the in-memory queue with a clock the tests move by hand."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.clock import FrozenClock
from adapters.memory.jobs import InMemoryJobOutbox, InMemoryJobQueue, StagedJobs
from adapters.memory.store import MemoryStore
from application.errors import DependencyUnavailable
from application.jobs import JobHandler, JobOutcome, JobRunner, JobRunnerSettings, retry_delay
from application.ports.jobs import JobRecord, LeasedJob, NewJob

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
ADDRESS = "ada@example.com"
LOGGER = "application.jobs.runner"
DAY = 86_400


@dataclass
class Worker:
    """A queue over a fresh store, the clock it runs on, and what its runner reported."""

    store: MemoryStore = field(default_factory=MemoryStore)
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(START))
    outcomes: list[tuple[str, JobOutcome]] = field(default_factory=list)

    @property
    def queue(self) -> InMemoryJobQueue:
        return InMemoryJobQueue(self.store)

    async def add(self, kind: str = "mail") -> NewJob:
        """Commit a job due now, as a unit of work would."""
        job = NewJob(uuid4(), kind, {"to": ADDRESS}, self.clock.now())
        staged = StagedJobs(self.store.jobs)
        await InMemoryJobOutbox(staged).add(job, now=self.clock.now())
        staged.apply()
        return job

    def runner(self, handlers: dict[str, JobHandler], **overrides: object) -> JobRunner:
        options: dict[str, object] = {"poll_seconds": 0.01, "grace_seconds": 1.0} | overrides
        return JobRunner(
            self.queue,
            handlers,
            self.clock,
            JobRunnerSettings(**options),
            rng=random.Random(7),
            on_outcome=lambda kind, outcome: self.outcomes.append((kind, outcome)),
        )

    async def record(self) -> JobRecord:
        [record] = await self.queue.list(state=None, limit=10)
        return record


@pytest.fixture
def worker() -> Worker:
    return Worker()


async def succeed(job: LeasedJob) -> None:
    return None


async def boom(job: LeasedJob) -> None:
    raise RuntimeError(f"mail to {job.payload['to']} refused")


async def until(condition: Callable[[], bool], seconds: float = 2.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.005)


def running(runner: JobRunner, stop: asyncio.Event) -> asyncio.Task[None]:
    return asyncio.create_task(asyncio.wait_for(runner.run(stop), timeout=5))


async def test_a_job_whose_handler_succeeds_is_completed(worker: Worker) -> None:
    seen: list[LeasedJob] = []

    async def handler(job: LeasedJob) -> None:
        seen.append(job)

    job = await worker.add()

    assert await worker.runner({"mail": handler}).run_until_idle() == 1

    assert [(j.id, j.payload, j.attempt) for j in seen] == [(job.id, {"to": ADDRESS}, 1)]
    record = await worker.record()
    assert (record.state, record.attempts) == ("done", 1)
    assert worker.outcomes == [("mail", "done")]
    assert await worker.runner({"mail": handler}).run_until_idle() == 0


async def test_failures_back_off_exponentially_then_the_job_is_failed_and_kept(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    job = await worker.add()
    runner = worker.runner({"mail": boom}, max_attempts=4, retry_base_seconds=10)
    delays = []
    for _ in range(3):
        failed_at = worker.clock.now()
        assert await runner.run_until_idle() == 1
        record = await worker.record()
        assert (record.state, record.attempts) == ("waiting", len(delays) + 1)
        delays.append((record.run_after - failed_at).total_seconds())
        assert await runner.run_until_idle() == 0  # not due yet
        worker.clock.advance(delays[-1])

    assert await runner.run_until_idle() == 1

    for n, delay in enumerate(delays):
        assert 0.75 * 10 * 2**n <= delay <= 1.25 * 10 * 2**n
    record = await worker.record()
    assert (record.id, record.state, record.attempts) == (job.id, "failed", 4)
    assert record.last_error == f"RuntimeError: mail to {ADDRESS} refused"
    assert worker.outcomes == [("mail", "retried")] * 3 + [("mail", "failed")]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert all(str(job.id) in w and "mail" in w and ADDRESS not in w for w in warnings)
    assert [f"attempt {n}" in w for n, w in enumerate(warnings, 1)] == [True] * 4


@given(
    attempt=st.integers(min_value=1, max_value=20),
    base=st.floats(min_value=0.0, max_value=600.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_the_retry_delay_is_base_times_two_to_the_attempts_before_within_the_jitter(
    attempt: int, base: float, seed: int
) -> None:
    delay = retry_delay(attempt, base, random.Random(seed))

    exponential = min(base * 2 ** (attempt - 1), DAY)
    assert 0.75 * exponential <= delay <= 1.25 * exponential


@given(st.integers(min_value=0, max_value=2**32))
def test_the_retry_delay_stops_growing_at_a_day(seed: int) -> None:
    assert 0.75 * DAY <= retry_delay(10**6, 10.0, random.Random(seed)) <= 1.25 * DAY


@settings(max_examples=25, deadline=None)
@given(max_attempts=st.integers(min_value=1, max_value=8), seed=st.integers(0, 2**32))
def test_a_job_runs_max_attempts_times_with_jittered_backoff_then_fails_for_good(
    max_attempts: int, seed: int
) -> None:
    async def scenario() -> None:
        worker = Worker()
        await worker.add()
        options = JobRunnerSettings(max_attempts=max_attempts, retry_base_seconds=5.0)
        runner = JobRunner(
            worker.queue, {"mail": boom}, worker.clock, options, rng=random.Random(seed)
        )
        for attempt in range(1, max_attempts):
            before = worker.clock.now()
            assert await runner.run_until_idle() == 1
            wait = ((await worker.record()).run_after - before).total_seconds()
            assert 0.75 * 5 * 2 ** (attempt - 1) <= wait <= 1.25 * 5 * 2 ** (attempt - 1)
            worker.clock.advance(wait)
        assert await runner.run_until_idle() == 1
        record = await worker.record()
        assert (record.state, record.attempts) == ("failed", max_attempts)
        worker.clock.advance(10**6)
        assert await runner.run_until_idle() == 0

    asyncio.run(scenario())


async def test_a_job_of_an_unknown_kind_fails_for_good_without_running(worker: Worker) -> None:
    await worker.add(kind="shred")

    assert await worker.runner({"mail": succeed}).run_until_idle() == 1

    record = await worker.record()
    assert (record.state, record.attempts) == ("failed", 1)
    assert record.last_error == "no handler for job kind 'shred'"
    assert worker.outcomes == [("shred", "failed")]


async def test_a_job_abandoned_by_dying_workers_on_every_attempt_fails_for_good(
    worker: Worker,
) -> None:
    ran: list[LeasedJob] = []

    async def handler(job: LeasedJob) -> None:
        ran.append(job)

    await worker.add()
    for _ in range(3):  # each worker dies holding the job: its lease runs out
        assert await worker.queue.lease(worker="dead", now=worker.clock.now(), lease_seconds=30)
        worker.clock.advance(30)

    assert await worker.runner({"mail": handler}, max_attempts=3).run_until_idle() == 1

    assert ran == []
    assert (await worker.record()).state == "failed"


async def test_stop_during_a_job_waits_for_it_to_finish(worker: Worker) -> None:
    started, finish = asyncio.Event(), asyncio.Event()

    async def handler(job: LeasedJob) -> None:
        started.set()
        await finish.wait()

    await worker.add()
    stop = asyncio.Event()
    task = running(worker.runner({"mail": handler}, grace_seconds=5), stop)
    await asyncio.wait_for(started.wait(), 2)

    stop.set()
    await asyncio.sleep(0.05)
    assert not task.done()
    finish.set()
    await task

    assert (await worker.record()).state == "done"


async def test_stop_hands_a_job_back_once_the_grace_period_is_over(worker: Worker) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def handler(job: LeasedJob) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    await worker.add()
    stop = asyncio.Event()
    task = running(worker.runner({"mail": handler}, grace_seconds=0.05), stop)
    await asyncio.wait_for(started.wait(), 2)

    stop.set()
    await task

    assert cancelled.is_set()
    record = await worker.record()
    assert (record.state, record.attempts) == ("waiting", 0)
    assert worker.outcomes == []


async def test_a_worker_cancelled_during_a_job_hands_it_back(worker: Worker) -> None:
    started = asyncio.Event()

    async def handler(job: LeasedJob) -> None:
        started.set()
        await asyncio.Event().wait()

    await worker.add()
    task = running(worker.runner({"mail": handler}), asyncio.Event())
    await asyncio.wait_for(started.wait(), 2)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert ((await worker.record()).state, (await worker.record()).attempts) == ("waiting", 0)


async def test_wake_starts_a_job_at_once_instead_of_at_the_next_poll(worker: Worker) -> None:
    ran = asyncio.Event()

    async def handler(job: LeasedJob) -> None:
        ran.set()

    runner = worker.runner({"mail": handler}, poll_seconds=60)
    stop = asyncio.Event()
    task = running(runner, stop)
    await asyncio.sleep(0.05)  # the runner found nothing and waits for its next poll
    await worker.add()

    runner.wake()
    await asyncio.wait_for(ran.wait(), 2)

    stop.set()
    await task
    assert (await worker.record()).state == "done"


@dataclass
class FlakyQueue:
    """A queue whose `lease` is unreachable for the first `outages` calls."""

    queue: InMemoryJobQueue
    outages: int
    calls: int = 0

    async def lease(self, **kwargs: object) -> LeasedJob | None:
        self.calls += 1
        if self.calls <= self.outages:
            raise DependencyUnavailable("the database is unavailable")
        return await self.queue.lease(**kwargs)

    def __getattr__(self, name: str) -> Callable[..., Awaitable[object]]:
        return getattr(self.queue, name)


async def test_a_queue_outage_is_logged_once_and_waited_out(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    flaky = FlakyQueue(worker.queue, outages=4)
    done = asyncio.Event()

    async def handler(job: LeasedJob) -> None:
        done.set()

    await worker.add()
    options = JobRunnerSettings(poll_seconds=0.001)
    runner = JobRunner(flaky, {"mail": handler}, worker.clock, options)
    stop = asyncio.Event()
    task = running(runner, stop)

    await asyncio.wait_for(done.wait(), 3)
    stop.set()
    await task

    assert flaky.calls > 4
    assert (await worker.record()).state == "done"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cannot lease jobs" in warnings[0].getMessage()
    assert all(r.exc_info is None for r in caplog.records)


async def test_the_heartbeat_keeps_the_lease_of_a_long_job(worker: Worker) -> None:
    taken_over: list[LeasedJob | None] = []

    async def handler(job: LeasedJob) -> None:
        worker.clock.advance(10)  # far past the first lease's end
        await asyncio.sleep(0.15)  # a heartbeat (every 0.1 s) extends it from the new now
        taken_over.append(
            await worker.queue.lease(worker="w2", now=worker.clock.now(), lease_seconds=1)
        )

    await worker.add()

    assert await worker.runner({"mail": handler}, lease_seconds=0.3).run_until_idle() == 1

    assert taken_over == [None]
    assert ((await worker.record()).state, worker.outcomes) == ("done", [("mail", "done")])


async def test_a_job_whose_lease_was_lost_drops_its_result(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)

    async def handler(job: LeasedJob) -> None:
        worker.clock.advance(60)  # the worker stalled: its lease ran out, another took over
        await worker.queue.lease(worker="w2", now=worker.clock.now(), lease_seconds=30)

    await worker.add()

    assert await worker.runner({"mail": handler}).run_until_idle() == 1

    record = await worker.record()
    assert (record.state, record.attempts) == ("running", 2)
    assert worker.outcomes == []
    assert any("lost its lease" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "options",
    [{"max_attempts": 0}, {"lease_seconds": 0}, {"poll_seconds": -1}, {"retry_base_seconds": -1}],
)
def test_settings_that_cannot_work_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"must|at least"):
        JobRunnerSettings(**options)
