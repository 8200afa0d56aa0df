"""In-memory idempotency records: a transaction's staged changes over the committed ones."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from application.errors import IdempotencyKeyInUse
from application.ports.idempotency import IdempotencyRecord

Key = tuple[str, str]  # (scope, key)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as the store keeps it; `result` is None until the claim is completed."""

    fingerprint: str
    result: str | None
    expires_at: datetime


class StagedRecords:
    """Records changed in a transaction (None: removed), over the committed ones."""

    def __init__(self, committed: dict[Key, StoredRecord]) -> None:
        self.committed = committed
        self.changes: dict[Key, StoredRecord | None] = {}

    def get(self, key: Key) -> StoredRecord | None:
        return self.changes[key] if key in self.changes else self.committed.get(key)

    def live_keys(self) -> list[Key]:
        return [key for key in {**self.committed, **self.changes} if self.get(key) is not None]

    def apply(self) -> None:
        for key, record in self.changes.items():
            if record is None:
                self.committed.pop(key, None)
            else:
                self.committed[key] = record
        self.changes.clear()

    def discard(self) -> None:
        self.changes.clear()


class InMemoryIdempotencyRecords:
    """IdempotencyRecords over a dict; transactions are serialised, so a claim never waits."""

    def __init__(self, records: StagedRecords) -> None:
        self._records = records

    async def find(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        stored = self._records.get((scope, key))
        if stored is None or stored.result is None or stored.expires_at <= now:
            return None
        return IdempotencyRecord(stored.fingerprint, stored.result, stored.expires_at)

    async def claim(
        self, scope: str, key: str, fingerprint: str, *, now: datetime, expires_at: datetime
    ) -> None:
        stored = self._records.get((scope, key))
        if stored is not None and stored.expires_at > now:
            raise IdempotencyKeyInUse("a request with this Idempotency-Key was recorded first")
        self._records.changes[(scope, key)] = StoredRecord(fingerprint, None, expires_at)

    async def complete(self, scope: str, key: str, result: str) -> None:
        stored = self._records.get((scope, key))
        if stored is not None:
            self._records.changes[(scope, key)] = dataclasses.replace(stored, result=result)

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        expired = [k for k in self._records.live_keys() if self._expired(k, now)][:limit]
        for key in expired:
            self._records.changes[key] = None
        return len(expired)

    def _expired(self, key: Key, now: datetime) -> bool:
        stored = self._records.get(key)
        return stored is not None and stored.expires_at <= now
