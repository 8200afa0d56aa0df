"""The durable access-token denylist: rows that outlive restarts and Redis outages."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.errors import DRIVER_ERRORS, translate
from adapters.sqlalchemy.tables import access_revocations as table
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
_REPLACE = delete(table).where(table.c.key == bindparam("key"))


class SqlAlchemyTokenDenylist:
    """DurableTokenDenylist on `access_revocations`; expired rows are purged on each write."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine, self._clock = engine, clock

    async def revoke_token(self, token_id: str, expires_at: datetime) -> None:
        await self._put(f"token:{token_id}", None, None, expires_at)

    async def revoke_user(
        self, user_id: UUID, issued_before: datetime, *, keep_token_id: str | None, ttl_seconds: int
    ) -> None:
        expires_at = self._clock.now() + timedelta(seconds=ttl_seconds)
        await self._put(f"user:{user_id}", issued_before, keep_token_id, expires_at)

    async def is_revoked(self, claims: AccessClaims) -> bool:
        keys = [f"token:{claims.token_id}", f"user:{claims.user_id}"]
        try:
            async with self._engine.connect() as conn:
                rows = await conn.execute(_MATCHING, {"keys": keys, "now": self._clock.now()})
                found = rows.all()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        for key, issued_before, keep in found:
            if key.startswith("token:"):
                return True
            if claims.token_id != keep and claims.issued_at < issued_before:
                return True
        return False

    async def active(self) -> list[Revocation]:
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(_ACTIVE, {"now": self._clock.now()})).all()
        except DRIVER_ERRORS as exc:
            raise translate(exc) from exc
        return [_revocation(*row) for row in rows]

    async def _put(
        self, key: str, issued_before: datetime | None, keep: str | None, expires_at: datetime
    ) -> None:
        row = {
            "key": key,
            "issued_before": issued_before,
            "keep_token_id": keep,
            "expires_at": expires_at,
        }
        for attempt in (1, 2):  # a concurrent write of the same key wins the first race
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(_PURGE, {"now": self._clock.now()})
                    await conn.execute(_REPLACE, {"key": key})
                    await conn.execute(table.insert(), row)
                return
            except IntegrityError:
                if attempt == 2:
                    return  # the key is revoked by the other writer either way
            except DRIVER_ERRORS as exc:
                raise translate(exc) from exc


def _revocation(
    key: str, issued_before: datetime | None, keep: str | None, expires_at: datetime
) -> Revocation:
    kind, _, name = key.partition(":")
    if kind == "token":
        return Revocation(expires_at, token_id=name)
    return Revocation(
        expires_at, user_id=UUID(name), issued_before=issued_before, keep_token_id=keep
    )
