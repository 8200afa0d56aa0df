"""bcrypt password hashing on a bounded thread pool, behind a bounded queue.

Hashing never blocks the event loop, and never makes a caller wait for long: when more hashes
wait for a thread than the queue holds, the next one is refused at once (`Overloaded`, a 503
with `Retry-After`) instead of joining a queue that would take seconds to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn, TypeVar

import bcrypt

from application.errors import Overloaded
from domain.users import MAX_PASSWORD_BYTES, Password

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_MAX_WAITING = 8
SHED_LOG_INTERVAL_SECONDS = 10.0


class _HashQueue:
    """At most one hash per thread on the pool, and at most `max_waiting` waiting for one; a
    waiter of the first lane goes before any of the second. One per hasher, shared by its
    views; touched only on the event loop (the pool reports back through it)."""

    def __init__(self, executor: ThreadPoolExecutor, max_waiting: int) -> None:
        self.executor, self.max_waiting = executor, max_waiting
        self.threads = executor._max_workers  # the pool's size, fixed when it was made
        self.busy = 0
        self.lanes: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())
        self.dummy: bytes | None = None
        self.hash_seconds = 0.0  # one hash's time, measured at warm-up
        self._shed, self._next_report = 0, 0.0

    async def run(self, lane: int, fn: Callable[..., T], *args: bytes) -> T:
        """`fn(*args)` on a thread of the pool, once one is this caller's (Overloaded if the
        wait would be long)."""
        await self._take_thread(lane)
        loop = asyncio.get_running_loop()
        try:
            job = self.executor.submit(fn, *args)
        except BaseException:
            self._release()
            raise
        job.add_done_callback(lambda _: _soon(loop, self._release))
        return await asyncio.wrap_future(job)

    async def _take_thread(self, lane: int) -> None:
        waiting = sum(map(len, self.lanes))
        if self.busy < self.threads and not waiting:
            self.busy += 1
            return
        room = self.max_waiting if lane == 0 else self.max_waiting // 2
        if waiting >= room:
            self._refuse()
        turn = asyncio.get_running_loop().create_future()
        self.lanes[lane].append(turn)
        try:
            await asyncio.wait_for(turn, self._patience())
        except TimeoutError:  # passed over by the first lane for longer than a queue takes
            self._forget(lane, turn)
            self._refuse()
        except asyncio.CancelledError:
            if turn.cancelled():
                self._forget(lane, turn)
            else:
                self._release()  # a thread was handed over as the caller left: pass it on
            raise

    def _patience(self) -> float:
        """The longest wait a full queue would make in turn, first come first served."""
        return max(1.0, (self.max_waiting / self.threads + 1) * self.hash_seconds)

    def _release(self) -> None:
        for lane in self.lanes:
            while lane:
                turn = lane.popleft()
                if not turn.done():
                    turn.set_result(None)  # the thread passes straight to the next waiter
                    return
        self.busy -= 1

    def _forget(self, lane: int, turn: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):
            self.lanes[lane].remove(turn)

    def _refuse(self) -> NoReturn:
        """Raise Overloaded; log refusals at most once per interval, with their count."""
        self._shed += 1
        now = time.monotonic()
        if now >= self._next_report:
            log.warning(
                "bcrypt queue full: %d password hash(es) refused with 503 since the last report"
                " (at most %d may wait for a thread)",
                self._shed,
                self.max_waiting,
            )
            self._shed, self._next_report = 0, now + SHED_LOG_INTERVAL_SECONDS
        raise Overloaded("password hashes")


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` on the loop, from a pool thread; not once the loop is gone (shutdown)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(callback)


class BcryptPasswordHasher:
    """Hashes with bcrypt at a configured cost on a dedicated, bounded pool of threads.

    bcrypt releases the GIL, so a few threads hash in parallel while the event loop serves
    other requests; the pool's size caps how many CPU cores logins may take at once. At most
    `max_waiting` hashes wait for a thread, so a wait is at most about
    `(max_waiting / threads + 1)` hash times; past that, or past half the queue for work that
    gives way, a hash is refused at once.
    """

    def __init__(
        self, *, rounds: int, executor: ThreadPoolExecutor, max_waiting: int = DEFAULT_MAX_WAITING
    ) -> None:
        self._rounds = rounds
        self._queue = _HashQueue(executor, max_waiting)
        self._lane = 0

    def lower_priority(self) -> BcryptPasswordHasher:
        """This hasher (the same pool, queue and dummy hash) for work that gives way: it waits
        behind every other hash, and is refused once half the queue is taken."""
        view = copy.copy(self)
        view._lane = 1
        return view

    async def _run(self, fn: Callable[..., T], *args: bytes) -> T:
        return await self._queue.run(self._lane, fn, *args)

    async def hash(self, password: Password) -> str:
        salt = bcrypt.gensalt(self._rounds)
        hashed = await self._run(bcrypt.hashpw, password.value.encode("utf-8"), salt)
        return hashed.decode("ascii")

    async def verify(self, password: str, hashed: str) -> bool:
        secret = password.encode("utf-8", "surrogatepass")
        if len(secret) > MAX_PASSWORD_BYTES:
            return False
        try:
            return bool(await self._run(bcrypt.checkpw, secret, hashed.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            return False

    async def warm_up(self) -> bytes:
        """Make the dummy hash now (at start-up), so that the first sign-in for an unknown
        account costs one bcrypt like every other, not two. Returns it."""
        queue = self._queue
        if queue.dummy is None:
            salt, started = bcrypt.gensalt(self._rounds), time.monotonic()
            queue.dummy = await self._run(bcrypt.hashpw, b"portico-dummy-password", salt)
            queue.hash_seconds = time.monotonic() - started
        return queue.dummy

    async def dummy_verify(self, password: str) -> None:
        dummy = await self.warm_up()  # made at start-up: no extra cost here
        secret = password.encode("utf-8", "surrogatepass")[:MAX_PASSWORD_BYTES]
        await self._run(bcrypt.checkpw, secret, dummy)

    def needs_rehash(self, hashed: str) -> bool:
        try:
            return int(hashed.split("$")[2]) < self._rounds
        except (IndexError, ValueError):
            return True
