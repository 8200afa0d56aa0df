"""The job worker: lease a due job, run its handler, record what came of it; then the next.

A job runs while a heartbeat keeps its lease. Success completes it; a failure sends it back
to wait `retry_delay` (exponential, with jitter) until its last attempt, after which it is
kept as failed. A worker told to stop lets the job in hand finish for a grace period, then
cancels it and hands it back, so that another worker takes it up at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from application.errors import DependencyUnavailable
from application.jobs.policy import JobRunnerSettings, retry_delay
from application.ports.clock import Clock
from application.ports.jobs import JobQueue, LeasedJob

log = logging.getLogger(__name__)

JobHandler = Callable[[LeasedJob], Awaitable[None]]
"""Does a job's work; raising means the attempt failed. Runs at least once: be idempotent."""

JobOutcome = Literal["done", "retried", "failed"]

MAX_OUTAGE_BACKOFF_SECONDS = 30.0
CANCEL_AGAIN_SECONDS = 1.0
"""How long a cancelled job may take to end before it is cancelled again."""


class JobRunner:
    """Runs due jobs of `queue` with the handler `handlers` names for each job's kind.

    `on_outcome(kind, outcome)` hears how each attempt ended (for metrics). Times for the
    queue come from `clock`; waiting (polls, heartbeats, grace) is in real seconds.
    """

    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, JobHandler],
        clock: Clock,
        settings: JobRunnerSettings | None = None,
        *,
        rng: random.Random | None = None,
        on_outcome: Callable[[str, JobOutcome], None] | None = None,
    ) -> None:
        self._queue, self._handlers, self._clock = queue, dict(handlers), clock
        self._settings = settings or JobRunnerSettings()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._on_outcome = on_outcome
        self._wake = asyncio.Event()
        self._outages = 0  # failed polls in a row

    def wake(self) -> None:
        """Look for due jobs at once instead of at the next poll (call after a commit)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Run due jobs until `stop` is set, then return once the job in hand is finished or,
        after `grace_seconds`, cancelled and handed back. Outages of the queue are waited out."""
        while not stop.is_set():
            self._wake.clear()
            job = await self._poll()
            if job is None:
                await self._idle(stop)
            else:
                await self._process(job, stop)

    async def run_until_idle(self) -> int:
        """Run due jobs one after another until none is due; return how many ran.

        Raises DependencyUnavailable when the queue is unreachable.
        """
        ran, never = 0, asyncio.Event()
        while (job := await self._lease()) is not None:
            await self._process(job, never)
            ran += 1
        return ran

    async def _lease(self) -> LeasedJob | None:
        worker, seconds = self._settings.worker, self._settings.lease_seconds
        return await self._queue.lease(worker=worker, now=self._clock.now(), lease_seconds=seconds)

    async def _poll(self) -> LeasedJob | None:
        try:
            job = await self._lease()
        except DependencyUnavailable as exc:
            if not self._outages:
                log.warning("cannot lease jobs (%s); retrying until the queue answers", exc)
            self._outages += 1
            return None
        except Exception:  # a bug must not stop the worker: report it once, then go on
            if not self._outages:
                log.exception("leasing a job failed; retrying")
            self._outages += 1
            return None
        if self._outages:
            log.info("leasing jobs again after %d failed polls", self._outages)
            self._outages = 0
        return job

    async def _idle(self, stop: asyncio.Event) -> None:
        pause = self._settings.poll_seconds
        if self._outages:
            ceiling = max(pause, MAX_OUTAGE_BACKOFF_SECONDS)
            pause = min(pause * 2.0 ** min(self._outages, 16), ceiling)
        waits = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        try:
            await asyncio.wait(waits, timeout=pause, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                await _cancel(wait)

    async def _process(self, job: LeasedJob, stop: asyncio.Event) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self._give_up(job, f"no handler for job kind {job.kind!r}")
            return
        if job.attempt > self._settings.max_attempts:  # workers died running it, every time
            await self._give_up(job, f"no attempt left ({self._settings.max_attempts} made)")
            return
        heartbeat = asyncio.create_task(self._heartbeat(job))
        work = asyncio.create_task(_attempt(handler, job))
        try:
            finished = await self._finished_in_time(work, stop)
        except asyncio.CancelledError:
            await _cancel(heartbeat)
            await self._hand_back(job, work)
            raise
        await _cancel(heartbeat)
        if finished:
            await self._settle(job, work)
        else:
            await self._hand_back(job, work)

    async def _finished_in_time(self, work: asyncio.Task[None], stop: asyncio.Event) -> bool:
        """Wait for `work`; once `stop` is set, for `grace_seconds` more at most."""
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait((work, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(stopping)
        if not work.done():
            await asyncio.wait((work,), timeout=self._settings.grace_seconds)
        return work.done()

    async def _heartbeat(self, job: LeasedJob) -> None:
        """Extend the lease every third of its length until cancelled or the lease is lost."""
        lease_seconds = self._settings.lease_seconds
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                held = await self._queue.extend(
                    job, now=self._clock.now(), lease_seconds=lease_seconds
                )
            except DependencyUnavailable:
                continue  # the lease may well outlast the outage: try again at the next beat
            if held is None:
                return

    async def _settle(self, job: LeasedJob, work: asyncio.Task[None]) -> None:
        error = asyncio.CancelledError() if work.cancelled() else work.exception()
        if error is None:
            await self._record(job, "done", self._queue.complete(job, now=self._clock.now()))
            return
        now = self._clock.now()
        retry_at = self._retry_at(job, now)
        log.warning(
            "job %s (%s) failed on attempt %d with %s; %s",
            job.id,
            job.kind,
            job.attempt,
            type(error).__name__,
            "failed for good" if retry_at is None else f"retrying at {retry_at.isoformat()}",
        )
        described = f"{type(error).__name__}: {error}"
        failing = self._queue.fail(job, now=now, error=described, retry_at=retry_at)
        await self._record(job, "failed" if retry_at is None else "retried", failing)

    def _retry_at(self, job: LeasedJob, now: datetime) -> datetime | None:
        """When to try again after the failed attempt; None when it was the last one."""
        if job.attempt >= self._settings.max_attempts:
            return None
        delay = retry_delay(job.attempt, self._settings.retry_base_seconds, self._rng)
        return now + timedelta(seconds=delay)

    async def _give_up(self, job: LeasedJob, reason: str) -> None:
        log.warning(
            "job %s (%s) failed for good on attempt %d: %s", job.id, job.kind, job.attempt, reason
        )
        failing = self._queue.fail(job, now=self._clock.now(), error=reason, retry_at=None)
        await self._record(job, "failed", failing)

    async def _record(self, job: LeasedJob, outcome: JobOutcome, change: Awaitable[bool]) -> None:
        """Apply the outcome's change; a lost lease or an outage drops it (the job runs again)."""
        try:
            kept = await change
        except DependencyUnavailable:
            log.warning("job %s (%s): outcome not recorded, queue unavailable", job.id, job.kind)
            return
        if not kept:
            log.warning("job %s (%s) lost its lease; result dropped", job.id, job.kind)
        elif self._on_outcome is not None:
            self._on_outcome(job.kind, outcome)

    async def _hand_back(self, job: LeasedJob, work: asyncio.Task[None]) -> None:
        await _cancel(work)
        try:
            released = await self._queue.release(job, now=self._clock.now())
        except DependencyUnavailable:
            log.warning(
                "job %s (%s) not handed back; retaken when its lease ends", job.id, job.kind
            )
            return
        if released:
            log.info("job %s (%s) handed back unfinished", job.id, job.kind)
        else:
            log.warning("job %s (%s) had lost its lease; not handed back", job.id, job.kind)


async def _attempt(handler: JobHandler, job: LeasedJob) -> None:
    await handler(job)


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and wait until it has ended, whatever it raised; cancel it again each
    second while it lingers (a clean-up of its own that waits on a peer)."""
    while not task.done():
        task.cancel()
        await asyncio.wait((task,), timeout=CANCEL_AGAIN_SECONDS)
    await asyncio.gather(task, return_exceptions=True)
