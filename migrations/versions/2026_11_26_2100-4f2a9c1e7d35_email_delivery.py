"""Notes by email: who a delivery goes to, its Message-ID, the sender's claim, attempts.

Notes completed before delivery existed are marked skipped, not mailed all at once by the
first worker that looks for deliveries due.

Revision ID: 4f2a9c1e7d35
Revises: c7a41f2e9d35
Created: 2026-11-26 21:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "4f2a9c1e7d35"
down_revision: str | None = "c7a41f2e9d35"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("syntheses") as batch:
        batch.add_column(
            sa.Column(
                "email_recipients",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("email_message_id", sa.String(255), nullable=True))
        batch.add_column(sa.Column("email_claim_token", sa.Uuid(), nullable=True))
        batch.add_column(
            sa.Column("email_claim_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("email_attempts", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.execute(
        sa.text(
            "UPDATE syntheses SET email_status = 'skipped', email_error = :reason "
            "WHERE email_status = 'pending' AND conversation_id IN "
            "(SELECT id FROM conversations WHERE status = 'completed')"
        ).bindparams(reason="completed before notes were sent by email")
    )


def downgrade() -> None:
    with op.batch_alter_table("syntheses") as batch:
        batch.drop_column("email_attempts")
        batch.drop_column("email_claim_expires_at")
        batch.drop_column("email_claim_token")
        batch.drop_column("email_message_id")
        batch.drop_column("email_recipients")
