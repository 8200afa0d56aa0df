"""Driver exceptions translated at the adapter boundary, so nothing above sees SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from application.errors import ApplicationError, Conflict, DependencyBusy, DependencyUnavailable

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    DisconnectionError,
    PoolTimeout,
    OSError,
)
"""What the database and its driver may raise: every DBAPI error (SQLAlchemy wraps them), a
dead pooled connection, an exhausted pool, and `OSError`, which covers a refused or reset
connection and `TimeoutError` (asyncio's too) while connecting, which drivers let through.

SQLAlchemy's own usage errors (CompileError, InvalidRequestError, ...) are bugs in this
adapter, not outages: they are left to surface as such.
"""


def translate(exc: BaseException) -> ApplicationError:
    """The application error for a driver exception (raise it `from exc`)."""
    if isinstance(exc, IntegrityError):
        return Conflict("the change conflicts with stored data")
    if isinstance(exc, PoolTimeout):  # the server answers; this process has too much to ask
        return DependencyBusy("requests for a database connection")
    return DependencyUnavailable("the database is unavailable")
