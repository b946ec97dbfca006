"""Transcript segments: written once per transcription, read in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select

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


# Built once, on the table: the ORM's bulk INSERT path costs more CPU than the statement.
_INSERT = insert(cast(Table, TranscriptSegment.__table__))


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
                    {
                        "id": uuid.uuid4(),
                        "conversation_id": conversation_id,
                        "position": position,
                        "start": segment.start,
                        "end": segment.end,
                        "speaker": segment.speaker,
                        "text": segment.text,
                        "words": segment.words,
                    }
                    for position, segment in enumerate(segments)
                ],
            )
        return len(segments)

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
