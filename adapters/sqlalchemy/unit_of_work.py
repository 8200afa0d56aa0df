"""The SQL unit of work: one pooled connection, one transaction, its repositories."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from adapters.sqlalchemy.repositories import SqlAlchemyItemRepository, SqlAlchemyUserRepository
from adapters.sqlalchemy.sessions import (
    SqlAlchemyPasswordResetTokenRepository,
    SqlAlchemyRefreshTokenRepository,
)
from adapters.sqlalchemy.transaction import Transaction
from application.ports.events import EventPublisher
from application.ports.unit_of_work import UnitOfWork


class SqlAlchemyUnitOfWork(UnitOfWork):
    """A unit of work over SQLite or PostgreSQL; driver errors leave it as application errors.

    `session_factory` is the `async_sessionmaker` of `engine.session_factory` (or the engine
    itself): repositories run Core statements on a connection of its engine, with no ORM
    session in between, which keeps the hot read path lean.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession] | AsyncEngine,
        publisher: EventPublisher,
    ) -> None:
        super().__init__(publisher)
        self._engine: AsyncEngine = (
            session_factory
            if isinstance(session_factory, AsyncEngine)
            else session_factory.kw["bind"]
        )
        self._tx = Transaction()
        self.users = SqlAlchemyUserRepository(self._tx)
        self.items = SqlAlchemyItemRepository(self._tx)
        self.refresh_tokens = SqlAlchemyRefreshTokenRepository(self._tx)
        self.reset_tokens = SqlAlchemyPasswordResetTokenRepository(self._tx)

    async def _begin(self) -> None:
        await self._tx.open(self._engine)

    async def _commit(self) -> None:
        await self._tx.commit()

    async def _rollback(self) -> None:
        await self._tx.rollback()

    async def _close(self) -> None:
        await self._tx.close()
