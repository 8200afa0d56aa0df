"""SQL idempotency records: the primary key (scope, key) makes a concurrent claim wait its turn."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sqlalchemy.tables import idempotency_keys as records
from adapters.sqlalchemy.transaction import Transaction
from application.errors import IdempotencyKeyInUse
from application.ports.idempotency import IdempotencyRecord

# Bind names differ from the column names: INSERT and UPDATE reserve those for their values.
_THIS_KEY = (records.c.scope == bindparam("in_scope")) & (records.c.key == bindparam("the_key"))
_FIND = select(records.c.fingerprint, records.c.result, records.c.expires_at).where(
    _THIS_KEY, records.c.result.is_not(None), records.c.expires_at > bindparam("now")
)
_COMPLETE = update(records).where(_THIS_KEY).values(result=bindparam("snapshot"))
# SKIP LOCKED: purging never waits for (nor deadlocks with) a transaction holding a record.
# SQLite has no row locks and renders no FOR UPDATE: its writers are serialised anyway.
_EXPIRED = (
    select(records.c.scope, records.c.key)
    .where(records.c.expires_at <= bindparam("now"))
    .order_by(records.c.expires_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_PURGE = delete(records).where(tuple_(records.c.scope, records.c.key).in_(_EXPIRED))


def _claim(dialect_insert: Callable[[Any], Any]) -> Any:
    """INSERT, or take over the key's expired record; a live one is left alone (no row)."""
    statement = dialect_insert(records)
    return statement.on_conflict_do_update(
        index_elements=[records.c.scope, records.c.key],
        set_={
            "fingerprint": statement.excluded.fingerprint,
            "result": None,
            "expires_at": statement.excluded.expires_at,
        },
        where=records.c.expires_at <= bindparam("now"),
    )


_CLAIMS = {"postgresql": _claim(postgresql.insert), "sqlite": _claim(sqlite.insert)}


class SqlAlchemyIdempotencyRecords:
    """IdempotencyRecords over the `idempotency_keys` table.

    A claim is one upsert: on PostgreSQL a second one of the same key waits for the first
    transaction's end, then writes no row if that committed; on SQLite the second writer
    waits for the write lock (BEGIN IMMEDIATE) and then writes no row either.
    """

    def __init__(self, tx: Transaction, dialect: str) -> None:
        self._tx, self._claim = tx, _CLAIMS[dialect]

    async def find(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        params = {"in_scope": scope, "the_key": key, "now": now}
        row = (await self._tx.read(_FIND, params)).first()
        if row is None:
            return None
        return IdempotencyRecord(row.fingerprint, row.result, row.expires_at)

    async def claim(
        self, scope: str, key: str, fingerprint: str, *, now: datetime, expires_at: datetime
    ) -> None:
        values = {"scope": scope, "key": key, "fingerprint": fingerprint, "result": None}
        if not await self._tx.write(self._claim, values | {"expires_at": expires_at, "now": now}):
            raise IdempotencyKeyInUse("a request with this Idempotency-Key was recorded first")

    async def complete(self, scope: str, key: str, result: str) -> None:
        params = {"in_scope": scope, "the_key": key, "snapshot": result}
        await self._tx.write(_COMPLETE, params)

    async def purge_expired(self, now: datetime, *, limit: int) -> int:
        return await self._tx.write(_PURGE, {"now": now, "limit": limit})
