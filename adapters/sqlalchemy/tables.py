"""The schema as SQLAlchemy Core tables. Alembic owns the real schema; this mirrors it.

A new table (refresh tokens, attachments, outbox) is one more `Table(..., metadata, ...)` here
plus a migration under `migrations/versions/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    Uuid,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant: timestamptz on PostgreSQL, UTC text on SQLite.

    Values are stored in UTC and always come back aware (UTC attached when the store has none).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # SQLite keeps no offset, so every stored value must be in the same zone to compare.
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]


class StdUuid(TypeDecorator[UUID]):
    """A UUID that always loads as the standard library's `uuid.UUID`.

    asyncpg hands back its own subclass, which some encoders (orjson) refuse.
    """

    impl = Uuid
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> UUID | None:
        if value is None or type(value) is UUID:
            return value
        return UUID(bytes=value.bytes)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

users = Table(
    "users",
    metadata,
    Column("id", StdUuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("hashed_password", String(255), nullable=False),
    Column("full_name", String(255), nullable=True),
    Column("is_active", Boolean, nullable=False),
    Column("is_superuser", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # The email is stored normalised, so the unique constraint is case-insensitive.
    CheckConstraint("email = lower(email)", name="email_lower_case"),
    Index(None, "created_at", "id"),
)

items = Table(
    "items",
    metadata,
    Column("id", StdUuid, primary_key=True),
    Column("owner_id", StdUuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("version >= 1", name="version_positive"),
    Index(None, "owner_id", "created_at", "id"),
    Index(None, "owner_id", "id"),
)

item_counts = Table(
    "item_counts",
    metadata,
    # How many items each user owns: one row per user, changed in the transaction of every
    # item insert and delete, so the total of a listing is one primary-key read.
    Column("owner_id", StdUuid, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("count", Integer, nullable=False),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", StdUuid, primary_key=True),
    Column("user_id", StdUuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("family_id", StdUuid, nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Index(None, "family_id"),
    Index(None, "user_id"),
)

password_reset_tokens = Table(
    "password_reset_tokens",
    metadata,
    Column("id", StdUuid, primary_key=True),
    Column("user_id", StdUuid, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("token_hash", String(128), nullable=False, unique=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Index(None, "user_id"),
)

access_revocations = Table(
    "access_revocations",
    metadata,
    # "token:<jti>" or "user:<id>": one row per revoked token, one per user-wide revocation.
    Column("key", String(200), primary_key=True),
    Column("issued_before", UtcDateTime, nullable=True),
    Column("keep_token_id", String(200), nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "expires_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    # "user:<id>" or "anonymous": a key is unique within its scope only.
    Column("scope", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # The first answer's snapshot; NULL only inside the transaction that claimed the key.
    Column("result", Text, nullable=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index(None, "expires_at"),
)

jobs = Table(
    "jobs",
    metadata,
    # The job queue and the transactional outbox in one: a unit of work inserts a row in the
    # transaction of the change that causes it; workers lease rows from here.
    Column("id", StdUuid, primary_key=True),
    Column("kind", String(100), nullable=False),
    Column("payload", Text, nullable=False),  # JSON
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("run_after", UtcDateTime, nullable=False),
    # Set while running: who holds the job (`lease`) and until when.
    Column("leased_until", UtcDateTime, nullable=True),
    Column("lease", String(200), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("state IN ('waiting', 'running', 'done', 'failed')", name="state_known"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    # The next due job is the first entry of ('waiting', run_after <= now); running jobs, whose
    # expired leases are taken over, are a short range of their own (one per busy worker).
    Index(None, "state", "run_after", "id"),
    Index(None, "created_at", "id"),  # `portico jobs list`, newest first
)

attachments = Table(
    "attachments",
    metadata,
    # The record of a file kept with an item; its bytes are in the blob store, under
    # "attachments/<id>". Written only once the bytes are stored.
    Column("id", StdUuid, primary_key=True),
    # A safety net: the use cases delete an item's attachments (announcing each, so that a job
    # removes the bytes) before the item; the cascade only catches what they did not.
    Column("item_id", StdUuid, ForeignKey("items.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", StdUuid, nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("size >= 1", name="size_positive"),
    Index(None, "item_id", "created_at", "id"),
)
