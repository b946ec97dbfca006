"""Leases for stage claims and recovery, delivery counts, progress, idempotency keys.

Revision ID: a8620236cf8d
Revises: 7bc518fdf2f5
Created: 2026-11-23 09:15:12.842146+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a8620236cf8d"
down_revision: str | None = "7bc518fdf2f5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEASED = "lease_expires_at IS NOT NULL"


def upgrade() -> None:
    # Batch mode: SQLite can only add a unique constraint by rebuilding the table.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("lease_token", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("deliveries", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch.add_column(sa.Column("progress", sa.Integer(), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_conversations_idempotency_key"), ["idempotency_key"]
        )
    op.create_index(
        "ix_conversations_lease_expires_at",
        "conversations",
        ["lease_expires_at"],
        postgresql_where=sa.text(_LEASED),
        sqlite_where=sa.text(_LEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_lease_expires_at", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("uq_conversations_idempotency_key"), type_="unique")
        batch.drop_column("progress")
        batch.drop_column("deliveries")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_token")
        batch.drop_column("idempotency_key")
