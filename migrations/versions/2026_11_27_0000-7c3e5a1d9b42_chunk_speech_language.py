"""A chunk keeps the whole recording's speech in its span and the recording's language.

Revision ID: 7c3e5a1d9b42
Revises: 9c3e5a7d1f42
Created: 2026-11-27 00:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c3e5a1d9b42"
down_revision: str | None = "9c3e5a7d1f42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_chunks") as batch:
        batch.add_column(
            sa.Column(
                "speech",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_chunks") as batch:
        batch.drop_column("language")
        batch.drop_column("speech")
