"""bcrypt password hashing on a bounded thread pool, so hashing never blocks the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import bcrypt

from domain.users import MAX_PASSWORD_BYTES, Password

T = TypeVar("T")


class BcryptPasswordHasher:
    """Hashes with bcrypt at a configured cost on a dedicated, bounded pool of threads.

    bcrypt releases the GIL, so a few threads hash in parallel while the event loop serves
    other requests; the pool's size caps how many CPU cores logins may take at once.
    """

    def __init__(self, *, rounds: int, executor: ThreadPoolExecutor) -> None:
        self._rounds, self._executor = rounds, executor
        self._dummy: bytes | None = None

    async def _run(self, fn: Callable[..., T], *args: bytes) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

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
        if self._dummy is None:
            salt = bcrypt.gensalt(self._rounds)
            self._dummy = await self._run(bcrypt.hashpw, b"portico-dummy-password", salt)
        return self._dummy

    async def dummy_verify(self, password: str) -> None:
        dummy = await self.warm_up()  # made at start-up: no extra cost here
        secret = password.encode("utf-8", "surrogatepass")[:MAX_PASSWORD_BYTES]
        await self._run(bcrypt.checkpw, secret, dummy)

    def needs_rehash(self, hashed: str) -> bool:
        try:
            return int(hashed.split("$")[2]) < self._rounds
        except (IndexError, ValueError):
            return True
