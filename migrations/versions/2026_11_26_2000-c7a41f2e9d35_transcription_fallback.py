"""Conversations record the providers a transcription fallback passed over; provider
circuits keep which providers failed recently, for every worker to skip.

Revision ID: c7a41f2e9d35
Revises: 8b4e1d2c6f90
Created: 2026-11-26 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c7a41f2e9d35"
down_revision: str | None = "8b4e1d2c6f90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column(
            "transcription_passed_over",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )
    op.create_table(
        "provider_circuits",
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_circuits")),
    )


def downgrade() -> None:
    op.drop_table("provider_circuits")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("transcription_passed_over")
