"""The idempotency-record port: what creating requests answered, under their clients' keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """The answer a request with some key was given, remembered until `expires_at`."""

    fingerprint: str
    """What the request was (its method, path and body), as the application fingerprinted it."""
    result: str
    """The result's snapshot, as the application wrote it (opaque to the store)."""
    expires_at: datetime


class IdempotencyRecords(Protocol):
    """Answers of creating requests by (scope, key): one record per key in a scope.

    Part of the unit of work: a record is written in the transaction of the change it answers,
    so a change that committed is always found on retry and one that rolled back left none.
    """

    async def find(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        """Return the completed record of `key` in `scope` (committed, or staged by this unit
        of work) unless it has expired by `now`; None otherwise."""
        ...

    async def claim(
        self, scope: str, key: str, fingerprint: str, *, now: datetime, expires_at: datetime
    ) -> None:
        """Stage a record of `key` in `scope` whose result is not known yet (see `complete`),
        in place of one that has expired by `now`.

        While another unit of work holds a claim on the key, wait until it ends. Raises
        IdempotencyKeyInUse when the key has a live record (one committed meanwhile included);
        this unit of work stays usable, e.g. to `find` that record.
        """
        ...

    async def complete(self, scope: str, key: str, result: str) -> None:
        """Stage the result of the record this unit of work claimed for `key` in `scope`."""
        ...

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        """Stage the removal of up to `limit` records expired by `now`, passing over any that
        another unit of work holds (never waiting for one); return how many."""
        ...
