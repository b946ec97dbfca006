"""Notes items carry their evidence; syntheses record their time and dropped items.

Decisions and open questions were stored as bare strings; they become objects
`{"text", "evidence"}` like the action items, whose evidence, owner address and resolved
due date are added as null. Notes written before grounding have no evidence to show.

Revision ID: 3c9d2e7f4a61
Revises: 5e1f0c7a9b2d
Created: 2026-11-26 15:30:00.000000+00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "3c9d2e7f4a61"
down_revision: str | None = "5e1f0c7a9b2d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    op.add_column("syntheses", sa.Column("seconds", sa.Double(), nullable=True))
    op.add_column(
        "syntheses",
        sa.Column("dropped_items", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    _rewrite_items(_as_object, _as_action_item)


def downgrade() -> None:
    _rewrite_items(_as_text, _as_old_action_item)
    with op.batch_alter_table("syntheses") as batch:
        batch.drop_column("dropped_items")
        batch.drop_column("seconds")


def _as_object(item: Any) -> Any:
    return {"text": item, "evidence": None} if isinstance(item, str) else item


def _as_action_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {"owner_email": None, "due_date": None, "evidence": None, **item}


def _as_text(item: Any) -> Any:
    return item.get("text", "") if isinstance(item, dict) else item


def _as_old_action_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {key: item.get(key) for key in ("text", "owner", "due")}


def _rewrite_items(statement_item: Any, action_item: Any) -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    syntheses = sa.table(
        "syntheses",
        sa.column("id", sa.Uuid()),
        sa.column("key_decisions", json_type),
        sa.column("open_questions", json_type),
        sa.column("action_items", json_type),
    )
    connection = op.get_bind()
    last: Any = None
    while True:
        # Keyset batches: a large table is rewritten without holding it all in memory.
        query = sa.select(syntheses).order_by(syntheses.c.id).limit(_BATCH)
        if last is not None:
            query = query.where(syntheses.c.id > last)
        rows = connection.execute(query).all()
        if not rows:
            return
        for row in rows:
            connection.execute(
                syntheses.update()
                .where(syntheses.c.id == row.id)
                .values(
                    key_decisions=[statement_item(i) for i in row.key_decisions or []],
                    open_questions=[statement_item(i) for i in row.open_questions or []],
                    action_items=[action_item(i) for i in row.action_items or []],
                )
            )
        last = rows[-1].id
