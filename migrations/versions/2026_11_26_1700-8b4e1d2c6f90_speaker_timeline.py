"""Conversations keep the speaker timeline given with their upload.

Revision ID: 8b4e1d2c6f90
Revises: 3c9d2e7f4a61
Created: 2026-11-26 17:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8b4e1d2c6f90"
down_revision: str | None = "3c9d2e7f4a61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column(
            "speaker_timeline",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("speaker_timeline")
