"""Transcript segments: written once per transcription, read in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Delete,
    Float,
    Insert,
    Integer,
    Table,
    Text,
    bindparam,
    column,
    delete,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from repositories.base import Repository
from repositories.models import TranscriptSegment


@dataclass(frozen=True, slots=True)
class NewSegment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SpokenText:
    """What a segment says, without the rest of the row (what notes and statistics read)."""

    speaker: str | None
    start: float
    end: float
    text: str


_TABLE = cast(Table, TranscriptSegment.__table__)
# Built once, on the table: the ORM's bulk INSERT path costs more CPU than the statement.
_INSERT = insert(_TABLE)


class TranscriptSegmentRepository(Repository[TranscriptSegment]):
    model = TranscriptSegment

    def replace_for_conversation(
        self,
        conversation_id: uuid.UUID,
        segments: Sequence[NewSegment],
        *,
        earlier: bool = True,
    ) -> int:
        """Make `segments` the conversation's whole transcript, replacing any earlier one.

        Delete-then-insert in the caller's transaction, so a redelivered transcription leaves
        the same rows as the first, never a mix of both. `earlier=False` says there cannot
        be an earlier transcript, and saves the DELETE.
        """
        if earlier:
            self.session.execute(
                delete(TranscriptSegment).where(
                    TranscriptSegment.conversation_id == conversation_id
                )
            )
        if segments:
            # One executemany INSERT: a long meeting has thousands of segments.
            self.execute(
                _INSERT,
                [
                    {"id": uuid.uuid4(), "conversation_id": conversation_id, **row}
                    for row in _rows(segments)
                ],
            )
        return len(segments)

    def rename_speaker(self, conversation_id: uuid.UUID, old: str, new: str) -> int:
        """Give the segments `old` spoke the speaker `new`; how many segments changed."""
        return self.update_where(
            TranscriptSegment.conversation_id == conversation_id,
            TranscriptSegment.speaker == old,
            speaker=new,
        )

    def list_spoken(self, conversation_id: uuid.UUID) -> list[SpokenText]:
        """The transcript in order, as plain values: no ORM rows, no word timings."""
        statement = (
            select(
                TranscriptSegment.speaker,
                TranscriptSegment.start,
                TranscriptSegment.end,
                TranscriptSegment.text,
            )
            .where(TranscriptSegment.conversation_id == conversation_id)
            .order_by(TranscriptSegment.position)
        )
        return [SpokenText(*row) for row in self.session.execute(statement)]


# PostgreSQL's one-statement transcription (ConversationRepository.store_transcript): the
# segments as one JSON parameter, written for the conversations a CTE returns.


def segment_rows(segments: Sequence[NewSegment]) -> dict[str, Any]:
    """The parameters of `segments_insert_selected` and `segments_delete_beyond`."""
    return {"segments": _rows(segments), "segment_count": len(segments)}


def _rows(segments: Sequence[NewSegment]) -> list[dict[str, Any]]:
    """A segment's columns, its position its place in `segments`."""
    return [
        {
            "position": position,
            "start": segment.start,
            "end": segment.end,
            "speaker": segment.speaker,
            "text": segment.text,
            "words": segment.words,
        }
        for position, segment in enumerate(segments)
    ]


def segments_insert_selected(conversations: CTE, *, replacing: bool) -> Insert:
    """The segments' INSERT for the conversations `conversations` returns (its `id`).

    `replacing` overwrites an earlier transcript's rows at the same positions in place: a
    DELETE of them in the same statement would not be seen by the unique key's check.
    """
    rows = (
        func.jsonb_to_recordset(bindparam("segments", type_=JSONB))
        .table_valued(
            column("position", Integer),
            column("start", Float),
            column("end", Float),
            column("speaker", Text),
            column("text", Text),
            column("words", JSONB),
        )
        .render_derived(name="new_segments", with_types=True)
    )
    written = ["position", "start", "end", "speaker", "text", "words"]
    statement = postgresql_insert(_TABLE).from_select(
        ["id", "conversation_id", *written],
        select(
            func.gen_random_uuid(), conversations.c.id, *(rows.c[name] for name in written)
        ).select_from(conversations.join(rows, true())),
        include_defaults=False,
    )
    if replacing:
        statement = statement.on_conflict_do_update(
            index_elements=[_TABLE.c.conversation_id, _TABLE.c.position],
            set_={name: statement.excluded[name] for name in written if name != "position"},
        )
    return statement


def segments_delete_beyond(conversations: CTE) -> Delete:
    """An earlier transcript's segments past the new one's end."""
    return delete(_TABLE).where(
        _TABLE.c.conversation_id.in_(select(conversations.c.id)),
        _TABLE.c.position >= bindparam("segment_count", type_=Integer),
    )
