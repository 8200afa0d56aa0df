"""Pooled connections in arrival order: waiting for a busy pool is a queue, not a scramble.

SQLAlchemy's asyncio pool gives a connection that comes back to whoever asks next, so under
load a caller that has waited can lose it to a newcomer again and again: a few callers wait
seconds while most wait not at all. Here callers take turns first (a FIFO semaphore as large
as the pool), so at most as many callers as there are connections ever ask the pool, and a
wait lasts about as long as the requests ahead of it take, never longer than the pool timeout.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool


class _Turns:
    __slots__ = ("_free", "_timeout", "connected", "size")

    def __init__(self, size: int, timeout: float) -> None:
        self._free = asyncio.Semaphore(size)  # FIFO: a newcomer never jumps the queue
        self._timeout = timeout
        self.size, self.connected = size, 0  # callers holding a turn and a live connection

    async def take(self) -> None:
        if not self._free.locked():
            await self._free.acquire()  # at once
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._free.acquire()
        except TimeoutError:
            raise PoolTimeout(
                f"no database connection came free within {self._timeout:g} s"
            ) from None

    def give_back(self) -> None:
        self._free.release()


_TURNS: weakref.WeakKeyDictionary[Engine, _Turns] = weakref.WeakKeyDictionary()


def admit_in_turn(engine: AsyncEngine, connections: int, timeout: float) -> None:
    """Make `checkout` on `engine` wait in line for one of its `connections`."""
    _TURNS[engine.sync_engine] = _Turns(connections, timeout)


async def checkout(engine: AsyncEngine) -> AsyncConnection:
    """A pooled connection of `engine`, once it is the caller's turn; hand it to `checkin`.

    Raises PoolTimeout when no connection came free in time (back-pressure, not an outage),
    and whatever connecting raises.
    """
    turns = _TURNS.get(engine.sync_engine)
    if turns is None:
        return await engine.connect()
    await turns.take()
    try:
        conn = await engine.connect()
    except BaseException:
        turns.give_back()
        raise
    turns.connected += 1
    return conn


async def checkin(engine: AsyncEngine, conn: AsyncConnection) -> None:
    """Return a connection from `checkout` to the pool and let the next caller have a turn."""
    try:
        await conn.close()
    finally:
        turns = _TURNS.get(engine.sync_engine)
        if turns is not None:
            turns.connected -= 1
            turns.give_back()


@asynccontextmanager
async def pooled(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`checkout` … `checkin` as a block, for work that is not a unit of work's."""
    conn = await checkout(engine)
    try:
        yield conn
    finally:
        await checkin(engine, conn)


def every_connection_serving(engine: AsyncEngine) -> bool:
    """Whether every connection `checkout` may hand out is out, connected, with a caller: the
    pool is busy, not broken (callers still trying to connect do not count)."""
    turns = _TURNS.get(engine.sync_engine)
    return turns is not None and turns.connected >= turns.size


@dataclass(frozen=True, slots=True)
class PoolUsage:
    """An engine's pooled connections at one moment: handed out, and open but unused."""

    in_use: int
    idle: int


def pool_usage(engine: AsyncEngine) -> PoolUsage:
    """How many of `engine`'s connections are checked out and how many wait in its pool.

    Reads two counters of the pool (no I/O, no lock): cheap enough for every metrics scrape.
    A pool that keeps no connections (NullPool, StaticPool) reports zeros.
    """
    pool = engine.sync_engine.pool  # read each time: dispose() puts a new pool in place
    if not isinstance(pool, QueuePool):
        return PoolUsage(0, 0)
    return PoolUsage(in_use=max(0, pool.checkedout()), idle=pool.checkedin())
