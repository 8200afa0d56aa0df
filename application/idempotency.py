"""Idempotency keys for creating use cases: a retried request gets the first answer again.

A client that sent a creating request and got no answer it can trust (a lost connection, a
503 after an in-doubt commit) retries with the same key. If the first attempt committed, the
retry is answered with the first result, as it was then; if not, the retry does the work.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar
from uuid import UUID

from application.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from application.ports.clock import Clock
from application.ports.unit_of_work import UnitOfWork
from application.snapshots import restore, snapshot

T = TypeVar("T")

KEY_LIFETIME = timedelta(hours=24)
"""How long a key is remembered: a retry after that is a new request."""
PURGE_BATCH = 100
"""At most this many expired records are removed with each one written."""
ANONYMOUS = "anonymous"
"""The scope of the keys of requests that no user signed (registration)."""


def user_scope(user_id: UUID) -> str:
    """The scope of a user's keys: another user's identical key is another key."""
    return f"user:{user_id}"


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's key for one request, and the fingerprint of that request."""

    value: str
    fingerprint: str


class RequestFingerprints:
    """Fingerprints of requests: HMAC-SHA-256 under a secret key, so that a stored one reveals
    nothing of the request (at registration, a password) to a reader of the database."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, operation: str, payload: bytes) -> str:
        """The fingerprint of `payload` sent to `operation` (e.g. `POST /api/v1/items`)."""
        message = operation.encode() + b"\n" + payload
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class Idempotent(Generic[T]):
    """Runs a creating step at most once per key in a scope; a retry gets the first result.

    The key is claimed before the step runs and completed with a snapshot of the result in the
    same unit of work, so the record commits or rolls back with the change: a failed step
    leaves no record, and the client may retry with the same key. A concurrent request with
    the key waits on the claim, then finds the record. The snapshot, not the stored entity,
    is replayed: the retry sees the answer of the first attempt even if the entity has changed
    since.
    """

    def __init__(self, result: type[T], clock: Clock, lifetime: timedelta = KEY_LIFETIME) -> None:
        self._result, self._clock, self._lifetime = result, clock, lifetime

    async def earlier(self, uow: UnitOfWork, scope: str, key: IdempotencyKey | None) -> T | None:
        """The result that a request with this key got, or None (no key, or not used yet).

        Raises IdempotencyKeyReused when the key was used for a different request.
        """
        if key is None:
            return None
        record = await uow.idempotency.find(scope, key.value, self._clock.now())
        if record is None:
            return None
        if record.fingerprint != key.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
        return restore(self._result, record.result)

    async def __call__(
        self,
        uow: UnitOfWork,
        scope: str,
        key: IdempotencyKey | None,
        step: Callable[[], Awaitable[T]],
    ) -> T:
        """The earlier result for the key, or `step`'s, recorded in `uow` (not committed).

        Raises IdempotencyKeyReused when the key was used for a different request.
        """
        if key is None:
            return await step()
        if (first := await self.earlier(uow, scope, key)) is not None:
            return first
        now = self._clock.now()
        records = uow.idempotency
        try:
            await records.claim(
                scope, key.value, key.fingerprint, now=now, expires_at=now + self._lifetime
            )
        except IdempotencyKeyInUse:  # a concurrent request with the key committed first
            if (first := await self.earlier(uow, scope, key)) is None:
                raise
            return first
        result = await step()
        await records.complete(scope, key.value, snapshot(result))
        await records.purge_expired(now, limit=PURGE_BATCH)
        return result
