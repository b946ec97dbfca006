"""The initial schema: conversations, participants, segments, syntheses, graph outbox.

Revision ID: 7bc518fdf2f5
Revises:
Created: 2026-11-23 07:06:58.401588+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7bc518fdf2f5"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# JSONB on PostgreSQL so the notes can be indexed and queried; JSON elsewhere.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "transcribing",
                "synthesizing",
                "completed",
                "failed",
                name="conversation_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("platform", sa.String(length=64), nullable=True),
        sa.Column("platform_meeting_id", sa.String(length=255), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("transcription_provider", sa.String(length=64), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("transcribing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("synthesizing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "platform",
            "platform_meeting_id",
            name=op.f("uq_conversations_platform_platform_meeting_id"),
        ),
    )
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])
    op.create_index("ix_conversations_status_created_at", "conversations", ["status", "created_at"])

    op.create_table(
        "graph_outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_graph_outbox_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_graph_outbox")),
    )
    op.create_index("ix_graph_outbox_conversation_id", "graph_outbox", ["conversation_id"])
    op.create_index(
        "ix_graph_outbox_unprocessed",
        "graph_outbox",
        ["created_at"],
        postgresql_where=sa.text("processed_at IS NULL"),
        sqlite_where=sa.text("processed_at IS NULL"),
    )

    op.create_table(
        "participants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("is_organizer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("spoken_seconds", sa.Double(), nullable=True),
        sa.Column("word_count", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_participants_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint(
            "conversation_id", "name", name=op.f("uq_participants_conversation_id_name")
        ),
    )
    op.create_index("ix_participants_email", "participants", ["email"])

    op.create_table(
        "syntheses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "key_decisions",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column(
            "action_items",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column(
            "open_questions",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column(
            "key_topics",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column(
            "email_status",
            sa.Enum(
                "pending",
                "sent",
                "skipped",
                "failed",
                name="email_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("email_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_syntheses_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_syntheses")),
        sa.UniqueConstraint("conversation_id", name=op.f("uq_syntheses_conversation_id")),
    )
    op.create_index(
        "ix_syntheses_pending_email",
        "syntheses",
        ["created_at"],
        postgresql_where=sa.text("email_status = 'pending'"),
        sqlite_where=sa.text("email_status = 'pending'"),
    )

    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("start", sa.Double(), nullable=False),
        sa.Column("end", sa.Double(), nullable=False),
        sa.Column("speaker", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "words",
            JSON_DOCUMENT,
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.CheckConstraint('"end" >= start', name=op.f("ck_transcript_segments_end_after_start")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_transcript_segments_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_segments")),
        sa.UniqueConstraint(
            "conversation_id",
            "position",
            name=op.f("uq_transcript_segments_conversation_id_position"),
        ),
    )


def downgrade() -> None:
    op.drop_table("transcript_segments")
    op.drop_index("ix_syntheses_pending_email", table_name="syntheses")

    op.drop_table("syntheses")
    op.drop_index("ix_participants_email", table_name="participants")

    op.drop_table("participants")
    op.drop_index("ix_graph_outbox_unprocessed", table_name="graph_outbox")
    op.drop_index("ix_graph_outbox_conversation_id", table_name="graph_outbox")

    op.drop_table("graph_outbox")
    op.drop_index("ix_conversations_status_created_at", table_name="conversations")
    op.drop_index("ix_conversations_created_at", table_name="conversations")

    op.drop_table("conversations")
