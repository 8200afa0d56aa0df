"""Jobs: the durable job queue, written in the transaction of the change that causes a job.

Revision ID: 0006
Revises: 0005
Create Date: 2026-01-06 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _instant(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    """timestamptz on PostgreSQL; UTC text on SQLite."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _instant("run_after"),
        _instant("leased_until", nullable=True),
        sa.Column("lease", sa.String(200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _instant("created_at"),
        _instant("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.CheckConstraint(
            "state IN ('waiting', 'running', 'done', 'failed')", name=op.f("ck_jobs_state_known")
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_jobs_attempts_not_negative")),
    )
    op.create_index(op.f("ix_jobs_state_run_after_id"), "jobs", ["state", "run_after", "id"])
    op.create_index(op.f("ix_jobs_created_at_id"), "jobs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_jobs_created_at_id"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_state_run_after_id"), table_name="jobs")
    op.drop_table("jobs")
