"""Full-text search over transcripts and notes.

PostgreSQL: generated `search_vector` columns on transcript_segments and syntheses, with
GIN indexes. Each vector holds the text parsed twice: with 'simple' (every word as said,
in any language) and with 'english' (stems: "decided" finds "decide"). A generated column
can only read its own row, and the conversation's language lives on another one; the
'simple' half keeps other languages findable word for word.

SQLite (the embedded default): FTS5 tables kept in step by triggers, so rows written or
deleted by any statement (a cascade from `conversations` too) change the index with them.
Segments are indexed as external content (their text is not stored twice), keyed by the
segment's rowid; the notes' items, read out of the JSON columns, are stored in the index.

Adding a stored generated column rewrites the table once under an exclusive lock: run it
in a quiet window on a large database (the migration's statement timeout still applies).

Revision ID: 14d9aca00f3b
Revises: 4f7a2c9e1b83
Created: 2026-11-26 20:00:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "14d9aca00f3b"
down_revision: str | None = "4f7a2c9e1b83"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As PostgreSQL renders them back, so `alembic check` finds them equal to the models'.
SEGMENT_VECTOR = "to_tsvector('simple'::regconfig, text) || to_tsvector('english'::regconfig, text)"
_NOTES_ITEMS = (
    "jsonb_path_query_array(((key_decisions || action_items) || open_questions), "
    "'$[*].\"text\"'::jsonpath)"
)
NOTES_VECTOR = (
    "((to_tsvector('simple'::regconfig, summary) || to_tsvector('english'::regconfig, summary))"
    f" || jsonb_to_tsvector('simple'::regconfig, {_NOTES_ITEMS}, '[\"string\"]'::jsonb))"
    f" || jsonb_to_tsvector('english'::regconfig, {_NOTES_ITEMS}, '[\"string\"]'::jsonb)"
)

# Porter stems English words; unicode61 splits every script into words and folds case and
# diacritics, so other languages are found word for word. The notes' rows: one per summary
# and item, with its kind and its number in its list (where its evidence is).
SQLITE_UPGRADE = [
    """CREATE VIRTUAL TABLE transcript_segments_search USING fts5(
        text, content = 'transcript_segments', content_rowid = 'rowid',
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER transcript_segments_search_insert AFTER INSERT ON transcript_segments
    BEGIN
        INSERT INTO transcript_segments_search (rowid, text) VALUES (NEW.rowid, NEW.text);
    END""",
    """CREATE TRIGGER transcript_segments_search_delete AFTER DELETE ON transcript_segments
    BEGIN
        INSERT INTO transcript_segments_search (transcript_segments_search, rowid, text)
        VALUES ('delete', OLD.rowid, OLD.text);
    END""",
    """CREATE TRIGGER transcript_segments_search_update AFTER UPDATE OF text
    ON transcript_segments
    BEGIN
        INSERT INTO transcript_segments_search (transcript_segments_search, rowid, text)
        VALUES ('delete', OLD.rowid, OLD.text);
        INSERT INTO transcript_segments_search (rowid, text) VALUES (NEW.rowid, NEW.text);
    END""",
    "INSERT INTO transcript_segments_search (transcript_segments_search) VALUES ('rebuild')",
    """CREATE VIRTUAL TABLE notes_search USING fts5(
        text, conversation_id UNINDEXED, kind UNINDEXED, item UNINDEXED,
        tokenize = 'porter unicode61 remove_diacritics 2')""",
    """CREATE TRIGGER notes_search_insert AFTER INSERT ON syntheses
    BEGIN
        INSERT INTO notes_search (conversation_id, kind, item, text)
        SELECT NEW.conversation_id, 'summary', NULL, NEW.summary WHERE NEW.summary <> ''
        UNION ALL
        SELECT NEW.conversation_id, 'decision', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.key_decisions) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL
        UNION ALL
        SELECT NEW.conversation_id, 'action_item', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.action_items) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL
        UNION ALL
        SELECT NEW.conversation_id, 'question', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.open_questions) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL;
    END""",
    # A conversation's notes are a handful of rows: finding them by a scan is cheap.
    """CREATE TRIGGER notes_search_delete AFTER DELETE ON syntheses
    BEGIN
        DELETE FROM notes_search WHERE conversation_id = OLD.conversation_id;
    END""",
    """CREATE TRIGGER notes_search_update
    AFTER UPDATE OF summary, key_decisions, action_items, open_questions ON syntheses
    BEGIN
        DELETE FROM notes_search WHERE conversation_id = OLD.conversation_id;
        INSERT INTO notes_search (conversation_id, kind, item, text)
        SELECT NEW.conversation_id, 'summary', NULL, NEW.summary WHERE NEW.summary <> ''
        UNION ALL
        SELECT NEW.conversation_id, 'decision', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.key_decisions) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL
        UNION ALL
        SELECT NEW.conversation_id, 'action_item', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.action_items) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL
        UNION ALL
        SELECT NEW.conversation_id, 'question', item.key, json_extract(item.value, '$.text')
        FROM json_each(NEW.open_questions) AS item
        WHERE json_extract(item.value, '$.text') IS NOT NULL;
    END""",
    # Notes stored before: the update trigger indexes them.
    "UPDATE syntheses SET summary = summary",
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER notes_search_update",
    "DROP TRIGGER notes_search_delete",
    "DROP TRIGGER notes_search_insert",
    "DROP TABLE notes_search",
    "DROP TRIGGER transcript_segments_search_update",
    "DROP TRIGGER transcript_segments_search_delete",
    "DROP TRIGGER transcript_segments_search_insert",
    "DROP TABLE transcript_segments_search",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_UPGRADE:
            op.execute(statement)
        return
    for table, expression in (
        ("transcript_segments", SEGMENT_VECTOR),
        ("syntheses", NOTES_VECTOR),
    ):
        op.add_column(
            table,
            sa.Column(
                "search_vector",
                postgresql.TSVECTOR(),
                sa.Computed(expression, persisted=True),
                nullable=True,
            ),
        )
        op.create_index(
            f"ix_{table}_search_vector", table, ["search_vector"], postgresql_using="gin"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE_DOWNGRADE:
            op.execute(statement)
        return
    for table in ("syntheses", "transcript_segments"):
        op.drop_index(f"ix_{table}_search_vector", table_name=table)
        op.drop_column(table, "search_vector")
