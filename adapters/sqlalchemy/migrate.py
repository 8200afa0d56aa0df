"""Alembic migrations, run programmatically on a URL (`portico migrate`, tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config

from adapters.sqlalchemy.errors import DRIVER_ERRORS
from application.errors import DependencyUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic config for the packaged migrations (works from an installed wheel too)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url  # not a main option: no %-interpolation of passwords
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`. Raises DependencyUnavailable."""
    _run(command.upgrade, url, revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at `url` down to `revision` ("base": nothing left)."""
    _run(command.downgrade, url, revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """`upgrade` for callers inside an event loop."""
    await asyncio.to_thread(upgrade, url, revision)


async def downgrade_async(url: str, revision: str) -> None:
    """`downgrade` for callers inside an event loop."""
    await asyncio.to_thread(downgrade, url, revision)


def _run(step: Callable[[Config, str], None], url: str, revision: str) -> None:
    config = alembic_config(url)
    try:
        if _in_event_loop():
            # env.py runs its own event loop, which cannot nest in this thread's running one.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(step, config, revision).result()
        else:
            step(config, revision)
    except DRIVER_ERRORS as exc:
        # For the operator at `portico migrate`: the first line names the driver's complaint.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DependencyUnavailable(f"could not migrate the database: {reason}") from exc


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
