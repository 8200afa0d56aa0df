"""Attachments: the records of files kept with items (their bytes are in the blob store).

Revision ID: 0007
Revises: 0006
Create Date: 2026-01-07 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_attachments_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("size >= 1", name=op.f("ck_attachments_size_positive")),
    )
    op.create_index(
        op.f("ix_attachments_item_id_created_at_id"),
        "attachments",
        ["item_id", "created_at", "id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_attachments_item_id_created_at_id"), table_name="attachments")
    op.drop_table("attachments")
