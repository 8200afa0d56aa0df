"""Alembic environment: migrates the database whose URL it is handed, never one from settings.

The URL comes from `config.attributes["url"]` (adapters.sqlalchemy.migrate), the
`sqlalchemy.url` option, or `alembic -x url=...` on the command line.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config

from adapters.sqlalchemy.tables import metadata

config = context.config


def _url() -> str:
    url = (
        config.attributes.get("url")
        or config.get_main_option("sqlalchemy.url")
        or context.get_x_argument(as_dictionary=True).get("url")
    )
    if not url:
        raise RuntimeError("no database URL: pass one to adapters.sqlalchemy.migrate.upgrade")
    return str(url)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_online() -> None:
    engine = async_engine_from_config(
        {"sqlalchemy.url": _url()}, prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
    except BaseException:
        # After a failed connect aiosqlite's worker thread still reports back to this loop:
        # give it a moment, or it finds the loop closed and prints a traceback.
        await asyncio.sleep(0.05)
        raise
    finally:
        await engine.dispose()


def _migrate_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _migrate_offline()
else:
    asyncio.run(_migrate_online())
