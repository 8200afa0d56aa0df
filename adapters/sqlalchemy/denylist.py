"""The durable access-token denylist: rows that outlive restarts and Redis outages."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import bindparam, case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.checkout import pooled
from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from adapters.sqlalchemy.tables import access_revocations as table
from application.errors import DependencyUnavailable
from application.ports.clock import Clock
from application.ports.security import AccessClaims
from application.ports.sessions import Revocation

_MATCHING = select(table.c.key, table.c.issued_before, table.c.keep_token_id).where(
    table.c.key.in_(bindparam("keys", expanding=True)), table.c.expires_at > bindparam("now")
)
_ACTIVE = select(
    table.c.key, table.c.issued_before, table.c.keep_token_id, table.c.expires_at
).where(table.c.expires_at > bindparam("now"))
_PURGE = delete(table).where(table.c.expires_at <= bindparam("now"))
_ISSUED_BEFORE = bindparam("new_issued_before", type_=table.c.issued_before.type)
_EXPIRES_AT = bindparam("new_expires_at", type_=table.c.expires_at.type)
_NEWER = table.c.issued_before <= _ISSUED_BEFORE  # NULL (never true) for token rows
# Merges into the stored row, monotonically: a user-wide entry takes the new moment and kept
# token only if the moment is not older; the expiry only ever grows. (Every SET expression
# reads the row as it was, on PostgreSQL and SQLite alike.)
_MERGE = (
    update(table)
    .where(table.c.key == bindparam("merged_key"))
    .values(
        issued_before=case((_NEWER, _ISSUED_BEFORE), else_=table.c.issued_before),
        keep_token_id=case((_NEWER, bindparam("new_keep_token_id")), else_=table.c.keep_token_id),
        expires_at=case((table.c.expires_at < _EXPIRES_AT, _EXPIRES_AT), else_=table.c.expires_at),
    )
)


class SqlAlchemyTokenDenylist:
    """DurableTokenDenylist on `access_revocations`; expired rows are purged on each write.

    A write merges into its key's row monotonically (see `_MERGE`).
    """

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine, self._clock = engine, clock

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        await self._put(f"token:{token_id}", None, None, expires_at)

    async def revoke_session(self, session_id: UUID, expires_at: datetime) -> None:
        await self._put(f"session:{session_id}", None, None, expires_at)

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        await self._put(f"user:{user_id}", issued_before, keep_token_id, expires_at)

    async def is_revoked(self, claims: AccessClaims) -> bool:
        keys = [f"token:{claims.token_id}", f"user:{claims.user_id}"]
        if claims.session_id is not None:
            keys.append(f"session:{claims.session_id}")
        try:
            async with pooled(self._engine) as conn:
                rows = await conn.execute(_MATCHING, {"keys": keys, "now": self._clock.now()})
                found = rows.all()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        for key, issued_before, keep in found:
            if key.startswith(("token:", "session:")):
                return True
            if claims.token_id != keep and claims.issued_at < issued_before:
                return True
        return False

    async def active(self) -> list[Revocation]:
        try:
            async with pooled(self._engine) as conn:
                rows = (await conn.execute(_ACTIVE, {"now": self._clock.now()})).all()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        return [_revocation(*row) for row in rows]

    async def _put(
        self, key: str, issued_before: datetime | None, keep: str | None, expires_at: datetime
    ) -> None:
        """Merge the entry into its key's row (see `_MERGE`), or insert it if there is none.

        Race-free: the UPDATE locks an existing row; if a concurrent writer inserts the row
        first, the INSERT fails on the key and the next attempt merges into that row.
        """
        row = {
            "key": key,
            "issued_before": issued_before,
            "keep_token_id": keep,
            "expires_at": expires_at,
        }
        merge = {
            "merged_key": key,
            "new_issued_before": issued_before,
            "new_keep_token_id": keep,
            "new_expires_at": expires_at,
        }
        for attempt in range(1, 4):
            try:
                async with pooled(self._engine) as conn, conn.begin():
                    await conn.execute(_PURGE, {"now": self._clock.now()})
                    if (await conn.execute(_MERGE, merge)).rowcount == 0:
                        await conn.execute(table.insert(), row)
                return
            except IntegrityError as exc:
                if attempt == 3:  # the row expired between attempts, every time: give up
                    raise DependencyUnavailable("the denylist row kept changing") from exc
            except DRIVER_ERRORS as exc:
                raise translate(exc) from exc


def _revocation(
    key: str, issued_before: datetime | None, keep: str | None, expires_at: datetime
) -> Revocation:
    kind, _, name = key.partition(":")
    if kind == "token":
        return Revocation(expires_at, token_id=name)
    if kind == "session":
        return Revocation(expires_at, session_id=UUID(name))
    return Revocation(
        expires_at, user_id=UUID(name), issued_before=issued_before, keep_token_id=keep
    )
