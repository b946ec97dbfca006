"""Action items followed across meetings; a deleted conversation's outbox event.

Revision ID: 2a129c30fbc8
Revises: 14d9aca00f3b
Created: 2026-11-26 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2a129c30fbc8"
down_revision: str | None = "14d9aca00f3b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_items",
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner_name", sa.String(length=255), nullable=True),
        sa.Column("owner_key", sa.String(length=320), nullable=True),
        sa.Column("owner_name_key", sa.String(length=255), nullable=True),
        sa.Column("due", sa.String(length=255), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "done",
                name="action_item_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("closed_in_id", sa.Uuid(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closing_quote", sa.Text(), nullable=True),
        sa.Column("carried_over_from_id", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["carried_over_from_id"],
            ["action_items.id"],
            name=op.f("fk_action_items_carried_over_from_id_action_items"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["closed_in_id"],
            ["conversations.id"],
            name=op.f("fk_action_items_closed_in_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_action_items_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
        sa.UniqueConstraint(
            "carried_over_from_id", name=op.f("uq_action_items_carried_over_from_id")
        ),
        sa.UniqueConstraint(
            "conversation_id", "key", name=op.f("uq_action_items_conversation_id_key")
        ),
    )
    op.create_index(
        op.f("ix_action_items_closed_in_id"), "action_items", ["closed_in_id"], unique=False
    )
    op.create_index(
        "ix_action_items_owner_key_state", "action_items", ["owner_key", "state"], unique=False
    )
    op.create_index(
        "ix_action_items_owner_name_key_state",
        "action_items",
        ["owner_name_key", "state"],
        unique=False,
    )
    # A `conversation.deleted` event outlives its conversation: the payload names it.
    with op.batch_alter_table("graph_outbox") as batch:
        batch.alter_column("conversation_id", existing_type=sa.Uuid(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM graph_outbox WHERE conversation_id IS NULL")
    with op.batch_alter_table("graph_outbox") as batch:
        batch.alter_column("conversation_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("ix_action_items_owner_name_key_state", table_name="action_items")
    op.drop_index("ix_action_items_owner_key_state", table_name="action_items")
    op.drop_index(op.f("ix_action_items_closed_in_id"), table_name="action_items")
    op.drop_table("action_items")
