"""The transcription model on each conversation, beside its provider.

Revision ID: 5e1f0c7a9b2d
Revises: a8620236cf8d
Created: 2026-11-26 13:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0c7a9b2d"
down_revision: str | None = "a8620236cf8d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A nullable column without a default: PostgreSQL adds it without rewriting the table.
    op.add_column(
        "conversations", sa.Column("transcription_model", sa.String(length=255), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("transcription_model")
