"""Users and their items.

Revision ID: 0001
Revises:
Create Date: 2026-01-01 00:00:00

Hand-written: SQLite runs in batch mode (render_as_batch), so ALTERs work on both dialects.
Names are wrapped in op.f(): final, not run through the metadata's naming convention again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str) -> sa.Column:  # type: ignore[type-arg]
    """timestamptz on PostgreSQL; UTC text on SQLite."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("hashed_password", sa.String(255), nullable=False),
        sa.Column("full_name", sa.String(255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), nullable=False),
        _instant("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower_case")),
    )
    op.create_index(op.f("ix_users_created_at_id"), "users", ["created_at", "id"])
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        _instant("created_at"),
        _instant("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_items_owner_id_users"), ondelete="CASCADE"
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_items_version_positive")),
    )
    op.create_index(
        op.f("ix_items_owner_id_created_at_id"), "items", ["owner_id", "created_at", "id"]
    )
    op.create_index(op.f("ix_items_owner_id_id"), "items", ["owner_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_items_owner_id_id"), table_name="items")
    op.drop_index(op.f("ix_items_owner_id_created_at_id"), table_name="items")
    op.drop_table("items")
    op.drop_index(op.f("ix_users_created_at_id"), table_name="users")
    op.drop_table("users")
