"""SQL stores of refresh-token families and password-reset tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update

from adapters.sqlalchemy.tables import password_reset_tokens as resets
from adapters.sqlalchemy.tables import refresh_tokens as refresh
from adapters.sqlalchemy.transaction import Transaction
from domain.sessions import PasswordResetToken, RefreshToken

T = TypeVar("T")

_REFRESH_COLUMNS = (
    refresh.c.id,
    refresh.c.user_id,
    refresh.c.family_id,
    refresh.c.token_hash,
    refresh.c.issued_at,
    refresh.c.expires_at,
    refresh.c.used_at,
    refresh.c.revoked_at,
)
_REFRESH_BY_HASH = select(*_REFRESH_COLUMNS).where(refresh.c.token_hash == bindparam("hash"))
_INSERT_REFRESH = insert(refresh)
_LIVE = refresh.c.used_at.is_(None) & refresh.c.revoked_at.is_(None)
_CONSUME_REFRESH = (
    update(refresh)
    .where(refresh.c.id == bindparam("token_id"), _LIVE)
    .values(used_at=bindparam("now"))
)
_REVOKE = update(refresh).where(refresh.c.revoked_at.is_(None)).values(revoked_at=bindparam("now"))
_REVOKE_FAMILY = _REVOKE.where(refresh.c.family_id == bindparam("family"))
_REVOKE_USER = _REVOKE.where(refresh.c.user_id == bindparam("user"))
_REVOKE_USER_BUT = _REVOKE_USER.where(refresh.c.family_id != bindparam("keep_family"))

_RESET_COLUMNS = (resets.c.id, resets.c.user_id, resets.c.token_hash, resets.c.expires_at)
_RESET_BY_HASH = select(*_RESET_COLUMNS, resets.c.used_at).where(
    resets.c.token_hash == bindparam("hash")
)
_INSERT_RESET = insert(resets)
_USE_UP_RESETS = (
    update(resets)
    .where(resets.c.user_id == bindparam("user"), resets.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)
_CONSUME_RESET = (
    update(resets)
    .where(resets.c.id == bindparam("token_id"), resets.c.used_at.is_(None))
    .values(used_at=bindparam("now"))
)


def _entity(kind: Callable[..., T], row: Sequence[Any]) -> T:
    """The entity whose fields are the row's columns, in order."""
    return kind(*row)


class SqlAlchemyRefreshTokenRepository:
    """RefreshTokenRepository over `refresh_tokens`; consuming is one guarded UPDATE."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, token: RefreshToken) -> None:
        values = {
            "id": token.id,
            "user_id": token.user_id,
            "family_id": token.family_id,
            "token_hash": token.token_hash,
            "issued_at": token.issued_at,
            "expires_at": token.expires_at,
            "used_at": token.used_at,
            "revoked_at": token.revoked_at,
        }
        await self._tx.write(_INSERT_REFRESH, values)

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        row = (await self._tx.read(_REFRESH_BY_HASH, {"hash": token_hash})).first()
        return None if row is None else _entity(RefreshToken, row)

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        # Of racing callers the database lets exactly one UPDATE match the still-live row.
        return await self._tx.write(_CONSUME_REFRESH, {"token_id": token_id, "now": now}) == 1

    async def revoke_family(self, family_id: UUID, now: datetime) -> None:
        await self._tx.write(_REVOKE_FAMILY, {"family": family_id, "now": now})

    async def revoke_for_user(
        self, user_id: UUID, now: datetime, *, keep_family: UUID | None = None
    ) -> None:
        params: dict[str, Any] = {"user": user_id, "now": now}
        if keep_family is None:
            await self._tx.write(_REVOKE_USER, params)
        else:
            await self._tx.write(_REVOKE_USER_BUT, params | {"keep_family": keep_family})


class SqlAlchemyPasswordResetTokenRepository:
    """PasswordResetTokenRepository over `password_reset_tokens`."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, token: PasswordResetToken) -> None:
        values = {
            "id": token.id,
            "user_id": token.user_id,
            "token_hash": token.token_hash,
            "expires_at": token.expires_at,
            "used_at": token.used_at,
        }
        await self._tx.write(_INSERT_RESET, values)

    async def get_by_hash(self, token_hash: str) -> PasswordResetToken | None:
        row = (await self._tx.read(_RESET_BY_HASH, {"hash": token_hash})).first()
        return None if row is None else _entity(PasswordResetToken, row)

    async def consume(self, token_id: UUID, now: datetime) -> bool:
        return await self._tx.write(_CONSUME_RESET, {"token_id": token_id, "now": now}) == 1

    async def revoke_for_user(self, user_id: UUID, now: datetime) -> None:
        await self._tx.write(_USE_UP_RESETS, {"user": user_id, "now": now})
