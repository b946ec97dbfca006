"""Full-text search over transcripts and notes: PostgreSQL's text search, SQLite's FTS5.

The indexes are the search migration's: on PostgreSQL generated `search_vector` columns
(each text parsed with 'simple' and 'english'), on SQLite FTS5 tables kept in step by
triggers. A query is what a user types into a search box (websearch syntax: words, "a
phrase", `or`, `-word`), never query syntax of the database's own: on PostgreSQL it goes
to `websearch_to_tsquery`, which reads any text without error; for FTS5 it is rebuilt
here from its words alone (see `fts5_query`), so quotes, `NEAR(`, `*` or `col:` are text.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Float, Integer, String, Text, TextualSelect, Uuid, bindparam, text
from sqlalchemy.types import TypeEngine

from repositories.base import Scope
from repositories.models import UTCDateTime

# SQLite's index: FTS5 tables, each with shadow tables named after it (`..._data`, ...).
SQLITE_SEARCH_TABLES = ("transcript_segments_search", "notes_search")

# The match in a snippet (written into the statements below): Markdown's strong emphasis,
# readable as plain text too.
MATCH_START = MATCH_END = "**"
# What unicode61 (FTS5's tokenizer) takes for a word: letters and digits, never "_".
_WORD = re.compile(r"[^\W_]+")
_TERM = re.compile(r'(-?)("[^"]*"?|[^\s"]+)')


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: uuid.UUID
    title: str | None
    # When the meeting was held: started, else scheduled, else stored.
    held_at: datetime
    # transcript, summary, decision, action_item, question
    kind: str
    # Seconds into the meeting: the segment's, or a notes item's first cited segment's.
    start: float | None
    speaker: str | None
    snippet: str
    # Higher is better; comparable within one search only.
    rank: float


class SearchRepository:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def search(
        self,
        query: str,
        *,
        speaker: str | None = None,
        since: datetime | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """The best `limit` matches of `query`, best first; `speaker`: only what a speaker
        whose name contains it (any case) said; `since`: only meetings held since then."""
        # NUL is no character a text column holds (PostgreSQL refuses it in a parameter).
        query = query.replace("\x00", " ")
        parameters: dict[str, Any] = {
            "query": query,
            "speaker": f"%{_escape_like(speaker)}%" if speaker is not None else None,
            "since": since.astimezone(UTC) if since is not None else None,
            "limit": limit,
        }
        statement = _POSTGRESQL
        if self.scope.dialect == "sqlite":
            statement, parameters["query"] = _SQLITE, fts5_query(query)
            if parameters["query"] is None:
                return []
        return [
            SearchHit(**row._mapping)
            for row in self.scope.connection.execute(statement, parameters)
        ]


def fts5_query(query: str) -> str | None:
    """`query` (websearch syntax) as an FTS5 query made of its words only; None when it has
    no word to look for.

    Every term becomes a quoted phrase of its words ("don't" -> "don t"), so nothing the
    user types is read as FTS5 syntax; `or` between terms is OR, a leading `-` excludes.
    """
    alternatives: list[list[str]] = [[]]
    excluded: list[str] = []
    for negated, term in _TERM.findall(query):
        words = _WORD.findall(term)
        if not words:
            continue
        if not negated and not term.startswith('"') and term.lower() == "or":
            alternatives.append([])
            continue
        phrase = '"' + " ".join(words) + '"'
        (excluded if negated else alternatives[-1]).append(phrase)
    groups = [" ".join(terms) for terms in alternatives if terms]
    if not groups:
        return None  # nothing but exclusions: FTS5 cannot list what lacks a word
    found = " OR ".join(f"({group})" for group in groups)
    return " NOT ".join([f"({found})", *excluded])


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_RESULT_COLUMNS: dict[str, TypeEngine[Any]] = {
    "conversation_id": Uuid(),
    "title": Text(),
    "held_at": UTCDateTime(),
    "kind": String(),
    "start": Float(),
    "speaker": Text(),
    "snippet": Text(),
    "rank": Float(),
}


def _statement(sql: str) -> TextualSelect:
    # `since` through the column's type: SQLite compares the text form it stores.
    return (
        text(sql)
        .bindparams(bindparam("since", type_=UTCDateTime()), bindparam("limit", type_=Integer()))
        .columns(**_RESULT_COLUMNS)
    )


# A notes item's text parsed as the vectors parse theirs ('simple' and 'english'): the
# notes' vector finds the notes that match, this which of their items do. ts_headline marks
# the match as MATCH_START/MATCH_END do, and runs only on the rows kept.
_POSTGRESQL = _statement(
    """
WITH q AS (
    SELECT websearch_to_tsquery('english'::regconfig, :query)
        || websearch_to_tsquery('simple'::regconfig, :query) AS query
),
meetings AS (
    SELECT * FROM (
        SELECT id, title, coalesce(started_at, scheduled_at, created_at) AS held_at
        FROM conversations
    ) AS m
    WHERE CAST(:since AS timestamptz) IS NULL OR held_at >= CAST(:since AS timestamptz)
),
segment_hits AS (
    SELECT s.conversation_id, 'transcript' AS kind, s.start, s.speaker, s.text,
        ts_rank_cd(s.search_vector, q.query) AS rank
    FROM transcript_segments AS s CROSS JOIN q
    WHERE s.search_vector @@ q.query
        AND (CAST(:speaker AS text) IS NULL OR s.speaker ILIKE :speaker ESCAPE '\\')
),
items AS (
    SELECT n.conversation_id, listed.kind, listed.text, listed.segment
    FROM syntheses AS n CROSS JOIN q
    CROSS JOIN LATERAL (
        SELECT 'summary' AS kind, n.summary AS text, NULL::integer AS segment
        UNION ALL
        SELECT kinds.kind, element ->> 'text',
            (element -> 'evidence' -> 'segment_ids' ->> 0)::integer
        FROM (VALUES ('decision', n.key_decisions), ('action_item', n.action_items),
                ('question', n.open_questions)) AS kinds (kind, items)
        CROSS JOIN LATERAL jsonb_array_elements(kinds.items) AS element
    ) AS listed
    WHERE n.search_vector @@ q.query
),
item_hits AS (
    SELECT item.conversation_id, item.kind, cited.start, cited.speaker, item.text,
        ts_rank_cd(item.vector, q.query) AS rank
    FROM (
        SELECT items.*, to_tsvector('simple'::regconfig, items.text)
            || to_tsvector('english'::regconfig, items.text) AS vector
        FROM items WHERE items.text IS NOT NULL
    ) AS item CROSS JOIN q
    LEFT JOIN transcript_segments AS cited
        ON cited.conversation_id = item.conversation_id AND cited.position = item.segment
    WHERE item.vector @@ q.query
        AND (CAST(:speaker AS text) IS NULL OR cited.speaker ILIKE :speaker ESCAPE '\\')
),
best AS (
    SELECT hit.*, m.title, m.held_at
    FROM (SELECT * FROM segment_hits UNION ALL SELECT * FROM item_hits) AS hit
    JOIN meetings AS m ON m.id = hit.conversation_id
    ORDER BY hit.rank DESC, m.held_at DESC, hit.start
    LIMIT :limit
)
SELECT best.conversation_id, best.title, best.held_at, best.kind, best.start, best.speaker,
    ts_headline(
        'english'::regconfig, best.text, q.query,
        'StartSel=**, StopSel=**, MaxWords=35, MinWords=30, ShortWord=0'
    ) AS snippet,
    best.rank
FROM best CROSS JOIN q
ORDER BY best.rank DESC, best.held_at DESC, best.start
"""
)

# snippet() marks the match as MATCH_START/MATCH_END do, with at most 20 words around it.
# bm25 is lower for better matches: negated, so that higher is better as on PostgreSQL.
_SQLITE = _statement(
    """
WITH meetings AS (
    SELECT * FROM (
        SELECT id, title, coalesce(started_at, scheduled_at, created_at) AS held_at
        FROM conversations
    )
    WHERE :since IS NULL OR held_at >= :since
),
hits AS (
    SELECT s.conversation_id, 'transcript' AS kind, s.start, s.speaker,
        snippet(transcript_segments_search, 0, '**', '**', '…', 20) AS snippet,
        -bm25(transcript_segments_search) AS rank
    FROM transcript_segments_search
    JOIN transcript_segments AS s ON s.rowid = transcript_segments_search.rowid
    WHERE transcript_segments_search MATCH :query
        AND (:speaker IS NULL OR s.speaker LIKE :speaker ESCAPE '\\')
    UNION ALL
    SELECT item.conversation_id, item.kind, cited.start, cited.speaker,
        snippet(notes_search, 0, '**', '**', '…', 20), -bm25(notes_search)
    FROM notes_search AS item
    JOIN syntheses AS n ON n.conversation_id = item.conversation_id
    LEFT JOIN transcript_segments AS cited
        ON cited.conversation_id = item.conversation_id
        AND cited.position = json_extract(
            CASE item.kind
                WHEN 'decision' THEN n.key_decisions
                WHEN 'action_item' THEN n.action_items
                WHEN 'question' THEN n.open_questions
            END,
            '$[' || item.item || '].evidence.segment_ids[0]'
        )
    WHERE notes_search MATCH :query
        AND (:speaker IS NULL OR cited.speaker LIKE :speaker ESCAPE '\\')
)
SELECT hits.conversation_id, m.title, m.held_at, hits.kind, hits.start, hits.speaker,
    hits.snippet, hits.rank
FROM hits JOIN meetings AS m ON m.id = hits.conversation_id
ORDER BY hits.rank DESC, m.held_at DESC, hits.start
LIMIT :limit
"""
)
