"""The durable access-token denylist.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_revocations",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("issued_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("keep_token_id", sa.String(200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_access_revocations")),
    )
    op.create_index(
        op.f("ix_access_revocations_expires_at"), "access_revocations", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_access_revocations_expires_at"), table_name="access_revocations")
    op.drop_table("access_revocations")
