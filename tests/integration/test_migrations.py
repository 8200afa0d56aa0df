"""Alembic owns the schema: migrations go up and down on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, select

from adapters.sqlalchemy.engine import create_engine
from adapters.sqlalchemy.migrate import downgrade, downgrade_async, upgrade, upgrade_async
from adapters.sqlalchemy.tables import item_counts, items, metadata, users
from domain.items import Item
from domain.users import User
from tests.contract.builders import a_user, an_item

TABLES = {
    "users",
    "items",
    "item_counts",
    "refresh_tokens",
    "password_reset_tokens",
    "access_revocations",
    "idempotency_keys",
    "jobs",
    "attachments",
}
INDEXES = {
    "users": {"ix_users_created_at_id"},
    "items": {"ix_items_owner_id_created_at_id", "ix_items_owner_id_id"},
    "refresh_tokens": {"ix_refresh_tokens_family_id", "ix_refresh_tokens_user_id"},
    "password_reset_tokens": {"ix_password_reset_tokens_user_id"},
    "access_revocations": {"ix_access_revocations_expires_at"},
    "idempotency_keys": {"ix_idempotency_keys_expires_at"},
    "jobs": {"ix_jobs_state_run_after_id", "ix_jobs_created_at_id"},
    "attachments": {"ix_attachments_item_id_created_at_id"},
}


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    return {
        "tables": tables,
        "indexes": {t: {i["name"] for i in inspector.get_indexes(t)} for t in tables & TABLES},
        "foreign_keys": [fk for t in tables & {"items"} for fk in inspector.get_foreign_keys(t)],
    }


async def _inspect(url: str) -> dict[str, Any]:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_schema)
    finally:
        await engine.dispose()


async def test_upgrade_then_downgrade_to_base_then_upgrade_again(empty_database_url: str) -> None:
    await upgrade_async(empty_database_url)
    migrated = await _inspect(empty_database_url)
    await downgrade_async(empty_database_url, "base")
    emptied = await _inspect(empty_database_url)
    await upgrade_async(empty_database_url)
    remigrated = await _inspect(empty_database_url)

    assert migrated["tables"] >= TABLES
    assert all(migrated["indexes"][t] >= names for t, names in INDEXES.items())
    [owner_fk] = migrated["foreign_keys"]
    assert (owner_fk["referred_table"], owner_fk["options"].get("ondelete")) == ("users", "CASCADE")
    assert emptied["tables"] == set()
    assert remigrated == migrated


async def test_the_sync_functions_work_from_inside_a_running_event_loop(
    empty_database_url: str,
) -> None:
    upgrade(empty_database_url)
    downgrade(empty_database_url, "base")
    upgrade(empty_database_url, "0001")
    assert (await _inspect(empty_database_url))["tables"] == {"users", "items"}
    upgrade(empty_database_url)
    assert (await _inspect(empty_database_url))["tables"] == TABLES


async def test_the_migrated_schema_matches_the_tables_module(database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_0004_counts_the_items_every_user_already_has(empty_database_url: str) -> None:
    url = empty_database_url
    ada, bob, eve = a_user(), a_user("bob@example.com"), a_user("eve@example.com")
    upgrade(url, "0003")
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            for user in (ada, bob, eve):
                await conn.execute(users.insert().values(_row(user)))
            for item in [an_item(ada, second=n) for n in range(3)] + [an_item(bob)]:
                await conn.execute(items.insert().values(_row(item)))
        upgrade(url, "0004")
        async with engine.connect() as conn:
            counted = {row[0]: row[1] for row in await conn.execute(select(item_counts))}
    finally:
        await engine.dispose()
    assert counted == {ada.id: 3, bob.id: 1, eve.id: 0}


def _row(entity: User | Item) -> dict[str, Any]:
    """The table's columns of a user or an item (the schema's tables hold no others yet)."""
    if isinstance(entity, Item):
        return {column.name: getattr(entity, column.name) for column in items.columns}
    values = {column.name: getattr(entity, column.name) for column in users.columns}
    return {**values, "email": entity.email.value}
