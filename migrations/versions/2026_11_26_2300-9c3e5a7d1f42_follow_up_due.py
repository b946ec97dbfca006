"""Conversations say when their action items await the follow-up across meetings, which
now runs in batches apart from the completion.

Revision ID: 9c3e5a7d1f42
Revises: 4f7a2c9e1b35
Created: 2026-11-26 23:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c3e5a7d1f42"
down_revision: str | None = "4f7a2c9e1b35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("follow_up_due", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_index(
        "ix_conversations_follow_up_due",
        "conversations",
        ["follow_up_due"],
        postgresql_where=sa.text("follow_up_due"),
        sqlite_where=sa.text("follow_up_due"),
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_follow_up_due", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("follow_up_due")
