"""SQL job queue: the `jobs` table is both the outbox units of work write and the workers' queue.

Every queue method is short work on a connection taken in turn (`pooled`), in autocommit: each
change is one statement, atomic on its own (a lease tries two: abandoned jobs, then due ones).
A lease takes its row with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent workers pass
each other by; SQLite has one writer at a time, and its `UPDATE ... WHERE id = (SELECT ...)`
holds the write lock from the start, so the choice and the change cannot come apart either.

A caller cancelled mid-statement (a worker stopping, a heartbeat ended) does not cut the
statement short: each one runs to its end in a task of its own (`_uncancelled`). On SQLite a
statement abandoned between its step and its reset would keep the database's write lock.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.checkout import pooled
from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from adapters.sqlalchemy.tables import jobs
from adapters.sqlalchemy.transaction import Transaction
from application.errors import JobNotFailed, JobNotFound
from application.ports.jobs import JobRecord, JobState, LeasedJob, NewJob

ERROR_LIMIT = 2_000
P = ParamSpec("P")
T = TypeVar("T")


def _uncancelled(method: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Awaitable[T]]:
    """Run the method to its end even if its caller is cancelled (the caller still is)."""

    @functools.wraps(method)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.shield(method(*args, **kwargs))

    return run


# Bind names differ from the column names: UPDATE reserves those for its values.
_NOW = bindparam("at", type_=jobs.c.updated_at.type)
_UNTIL = bindparam("until", type_=jobs.c.leased_until.type)
_THIS_LEASE = (
    (jobs.c.id == bindparam("job_id"))
    & (jobs.c.lease == bindparam("held"))
    & (jobs.c.state == "running")
)
_LEASED = (jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts, jobs.c.leased_until)


def _take(state: str, due: Any) -> Any:
    """Lease the first job in `state` whose `due` moment has come, passing rows another
    worker holds; the attempt counts."""
    first = select(jobs.c.id).where(jobs.c.state == state, due <= _NOW).order_by(due, jobs.c.id)
    return (
        update(jobs)
        .where(jobs.c.id == first.limit(1).with_for_update(skip_locked=True).scalar_subquery())
        .values(
            state="running",
            attempts=jobs.c.attempts + 1,
            lease=bindparam("new_lease"),
            leased_until=_UNTIL,
            updated_at=_NOW,
        )
        .returning(*_LEASED)
    )


# First a running job whose lease ran out (its worker died), then the oldest due waiting one.
_TAKE_ABANDONED = _take("running", jobs.c.leased_until)
_TAKE_DUE = _take("waiting", jobs.c.run_after)
_LET_GO = {"lease": None, "leased_until": None, "updated_at": _NOW}


def _guarded(**values: Any) -> Any:
    """Change the job only while the caller's lease still holds it; a row back if it did."""
    return update(jobs).where(_THIS_LEASE).values(**values).returning(jobs.c.leased_until)


_EXTEND = _guarded(leased_until=_UNTIL, updated_at=_NOW)
_COMPLETE = _guarded(state="done", **_LET_GO)
_RETRY_LATER = _guarded(
    state="waiting",
    run_after=bindparam("retry_at", type_=jobs.c.run_after.type),
    last_error=bindparam("error"),
    **_LET_GO,
)
_FAIL_FOR_GOOD = _guarded(state="failed", last_error=bindparam("error"), **_LET_GO)
# The attempt handed back does not count; run_after has come already (the job was due).
_RELEASE = _guarded(state="waiting", attempts=jobs.c.attempts - 1, **_LET_GO)

_RECORD = (
    jobs.c.id,
    jobs.c.kind,
    jobs.c.state,
    jobs.c.attempts,
    jobs.c.run_after,
    jobs.c.created_at,
    jobs.c.updated_at,
    jobs.c.last_error,
    jobs.c.payload,
)
_NEWEST = select(*_RECORD).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
_LIST_ALL = _NEWEST.limit(bindparam("limit"))
_LIST_IN_STATE = _NEWEST.where(jobs.c.state == bindparam("in_state")).limit(bindparam("limit"))
# Counted on the (state, run_after, id) index: every metrics scrape asks (portico_jobs_waiting).
_COUNT_IN_STATE = (
    select(func.count()).select_from(jobs).where(jobs.c.state == bindparam("in_state"))
)
_RETRY = (
    update(jobs)
    .where(jobs.c.id == bindparam("job_id"), jobs.c.state == "failed")
    .values(state="waiting", attempts=0, run_after=_NOW, updated_at=_NOW)
    .returning(*_RECORD)
)
_STATE_OF = select(jobs.c.state).where(jobs.c.id == bindparam("job_id"))


def _insert(dialect_insert: Callable[[Any], Any]) -> Any:
    return dialect_insert(jobs).on_conflict_do_nothing(index_elements=[jobs.c.id])


_INSERTS = {"postgresql": _insert(postgresql.insert), "sqlite": _insert(sqlite.insert)}


class SqlAlchemyJobOutbox:
    """JobOutbox writing to `jobs` in the unit of work's transaction."""

    def __init__(self, tx: Transaction, dialect: str) -> None:
        self._tx, self._insert = tx, _INSERTS[dialect]

    async def add(self, job: NewJob, *, now: datetime) -> None:
        row = {
            "id": job.id,
            "kind": job.kind,
            "payload": json.dumps(job.payload, separators=(",", ":")),
            "state": "waiting",
            "attempts": 0,
            "run_after": job.run_after,
            "leased_until": None,
            "lease": None,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        await self._tx.write(self._insert, row)  # no row when the id is recorded already


class SqlAlchemyJobQueue:
    """JobQueue over `jobs`; driver errors leave it as DependencyUnavailable (or Busy)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @_uncancelled
    async def lease(self, *, worker: str, now: datetime, lease_seconds: float) -> LeasedJob | None:
        held = f"{worker[:160]}/{uuid4().hex}"
        params = {"at": now, "until": now + timedelta(seconds=lease_seconds), "new_lease": held}
        try:
            async with pooled(self._engine) as conn:
                row = (await conn.execute(_TAKE_ABANDONED, params)).first()
                if row is None:
                    row = (await conn.execute(_TAKE_DUE, params)).first()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        if row is None:
            return None
        return LeasedJob(
            row.id, row.kind, json.loads(row.payload), row.attempts, held, row.leased_until
        )

    async def extend(
        self, job: LeasedJob, *, now: datetime, lease_seconds: float
    ) -> LeasedJob | None:
        until = now + timedelta(seconds=lease_seconds)
        row = await self._change(_EXTEND, job, {"at": now, "until": until})
        if row is None:
            return None
        return LeasedJob(job.id, job.kind, job.payload, job.attempt, job.lease, row.leased_until)

    async def complete(self, job: LeasedJob, *, now: datetime) -> bool:
        return await self._change(_COMPLETE, job, {"at": now}) is not None

    async def fail(
        self, job: LeasedJob, *, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        params = {"at": now, "retry_at": retry_at, "error": error[:ERROR_LIMIT]}
        statement = _FAIL_FOR_GOOD if retry_at is None else _RETRY_LATER
        return await self._change(statement, job, params) is not None

    async def release(self, job: LeasedJob, *, now: datetime) -> bool:
        return await self._change(_RELEASE, job, {"at": now}) is not None

    @_uncancelled
    async def list(self, *, state: JobState | None, limit: int) -> list[JobRecord]:
        params: dict[str, object] = {"limit": limit, "in_state": state}
        statement = _LIST_ALL if state is None else _LIST_IN_STATE
        try:
            async with pooled(self._engine) as conn:
                rows = (await conn.execute(statement, params)).all()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        return [_record(row) for row in rows]

    @_uncancelled
    async def count(self, state: JobState) -> int:
        try:
            async with pooled(self._engine) as conn:
                return int((await conn.execute(_COUNT_IN_STATE, {"in_state": state})).scalar_one())
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc

    @_uncancelled
    async def retry(self, job_id: UUID, *, now: datetime) -> JobRecord:
        try:
            async with pooled(self._engine) as conn:
                row = (await conn.execute(_RETRY, {"job_id": job_id, "at": now})).first()
                if row is not None:
                    return _record(row)
                state = (await conn.execute(_STATE_OF, {"job_id": job_id})).scalar()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        if state is None:
            raise JobNotFound(f"no job {job_id}")
        raise JobNotFailed(f"job {job_id} is {state}, not failed")

    @_uncancelled
    async def _change(
        self, statement: Any, job: LeasedJob, params: dict[str, Any]
    ) -> Row[Any] | None:
        """Run a `_guarded` change of `job`; None when its lease was lost."""
        try:
            async with pooled(self._engine) as conn:
                held = {"job_id": job.id, "held": job.lease}
                return (await conn.execute(statement, params | held)).first()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc


def _record(row: Row[*tuple[Any, ...]]) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        state=row.state,
        attempts=row.attempts,
        run_after=row.run_after,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_error=row.last_error,
        payload=json.loads(row.payload),
    )
