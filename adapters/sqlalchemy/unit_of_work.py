"""The SQL unit of work: one pooled connection, one transaction, its repositories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sqlalchemy.attachments import SqlAlchemyAttachmentRepository
from adapters.sqlalchemy.idempotency import SqlAlchemyIdempotencyRecords
from adapters.sqlalchemy.jobs import SqlAlchemyJobOutbox
from adapters.sqlalchemy.repositories import SqlAlchemyItemRepository, SqlAlchemyUserRepository
from adapters.sqlalchemy.sessions import (
    SqlAlchemyPasswordResetTokenRepository,
    SqlAlchemyRefreshTokenRepository,
)
from adapters.sqlalchemy.transaction import Transaction
from application.ports.unit_of_work import Reactions, UnitOfWork


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A unit of work over SQLite or PostgreSQL; driver errors leave it as application errors.

    It runs Core statements on one pooled connection of `engine`, with no ORM session in
    between (nothing here needs an identity map), which keeps the hot read path lean.
    """

    def __init__(self, engine: AsyncEngine, reactions: Reactions) -> None:
        super().__init__(reactions)
        self._engine = engine
        self._tx = Transaction()
        self.users = SqlAlchemyUserRepository(self._tx)
        self.items = SqlAlchemyItemRepository(self._tx)
        self.attachments = SqlAlchemyAttachmentRepository(self._tx)
        self.refresh_tokens = SqlAlchemyRefreshTokenRepository(self._tx)
        self.reset_tokens = SqlAlchemyPasswordResetTokenRepository(self._tx)
        self.idempotency = SqlAlchemyIdempotencyRecords(self._tx, engine.dialect.name)
        self.jobs = SqlAlchemyJobOutbox(self._tx, engine.dialect.name)

    async def _begin(self) -> None:
        await self._tx.open(self._engine)

    async def _commit(self) -> None:
        await self._tx.commit()

    async def _rollback(self) -> None:
        await self._tx.rollback()

    async def _close(self) -> None:
        await self._tx.close()
