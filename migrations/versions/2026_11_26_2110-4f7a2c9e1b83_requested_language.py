"""Conversations keep the language their upload said the speech is in.

Revision ID: 4f7a2c9e1b83
Revises: 4f2a9c1e7d35
Created: 2026-11-26 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4f7a2c9e1b83"
down_revision: str | None = "4f2a9c1e7d35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations", sa.Column("requested_language", sa.String(length=16), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("requested_language")
