"""How many items each user owns, kept with every item insert and delete.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-04 00:00:00

The counts are taken from the items table as it stands. On PostgreSQL both tables are held
against writes (SHARE mode) until the migration commits, so no item or user written meanwhile
is missed; SQLite has one writer at a time anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
INSERT INTO item_counts (owner_id, count)
SELECT users.id, count(items.id)
FROM users LEFT JOIN items ON items.owner_id = users.id
GROUP BY users.id
"""


def upgrade() -> None:
    op.create_table(
        "item_counts",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_item_counts")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_item_counts_owner_id_users"),
            ondelete="CASCADE",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("LOCK TABLE users, items IN SHARE MODE")
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_table("item_counts")
