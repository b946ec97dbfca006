"""The chunks of long recordings: planned once, each leased by the worker transcribing it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, insert, select, update

from repositories.base import Repository, lease_free
from repositories.conversations import _participant_names
from repositories.models import (
    ChunkState,
    Conversation,
    ConversationStatus,
    TranscriptChunk,
)


@dataclass(frozen=True, slots=True)
class ChunkClaim:
    """A chunk taken, with what its transcription reads of the conversation."""

    conversation_id: uuid.UUID
    position: int
    start: float
    end: float
    deliveries: int
    source_uri: str
    title: str | None
    participants: list[str]
    # The language the upload named, else the one told for the whole recording when the
    # chunks were planned; None: detect it.
    language: str | None
    speech: list[tuple[float, float]] | None  # the whole recording's speech in the span


@dataclass(frozen=True, slots=True)
class StoredChunk:
    done: int
    total: int

    @property
    def last(self) -> bool:
        return self.done == self.total


@dataclass(frozen=True, slots=True)
class FinishedChunk:
    end: float
    result: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StuckChunk:
    id: uuid.UUID
    conversation_id: uuid.UUID
    leased: bool  # a worker held it and died; otherwise its queued message waits, or was lost


class TranscriptChunkRepository(Repository[TranscriptChunk]):
    model = TranscriptChunk

    def count_for(self, conversation_id: uuid.UUID) -> int:
        return self.count(TranscriptChunk.conversation_id == conversation_id)

    def hand_over(
        self,
        conversation_id: uuid.UUID,
        *,
        holder: uuid.UUID,
        spans: Sequence[tuple[float, float, Sequence[tuple[float, float]] | None]],
        language: str | None,
        now: datetime,
        requeue_at: datetime,
    ) -> list[uuid.UUID] | None:
        """The conversation's transcription handed from `holder` to its chunks: `spans`
        (start, end, the speech in it) become its chunks, all in `language`, unless it has
        some already, and the unfinished ones nobody holds
        are queued (due by `requeue_at`). Their ids, to send; None when `holder` lost the
        lease, and nothing is written.

        The conversation keeps no lease of its own meanwhile: each chunk carries one, and
        the last chunk to land queues the stitching.
        """
        released = self.execute(
            update(Conversation)
            .where(
                Conversation.id == conversation_id,
                Conversation.status == ConversationStatus.TRANSCRIBING,
                Conversation.lease_token == holder,
            )
            .values(lease_token=None, lease_expires_at=None, deliveries=0, updated_at=now)
        ).rowcount
        if released != 1:
            return None
        if not self.count_for(conversation_id):
            self.execute(
                insert(TranscriptChunk),
                [
                    {
                        "id": uuid.uuid4(),
                        "created_at": now,
                        "conversation_id": conversation_id,
                        "position": position,
                        "start": start,
                        "end": end,
                        "speech": None if speech is None else [list(span) for span in speech],
                        "language": language,
                        "state": ChunkState.PENDING,
                        "lease_expires_at": requeue_at,
                    }
                    for position, (start, end, speech) in enumerate(spans)
                ],
            )
        self._record_progress(conversation_id)
        queued = self.execute(
            update(TranscriptChunk)
            .where(
                TranscriptChunk.conversation_id == conversation_id,
                TranscriptChunk.state == ChunkState.PENDING,
                lease_free(TranscriptChunk, now),
            )
            .values(lease_token=None, lease_expires_at=requeue_at)
            .returning(TranscriptChunk.id)
        )
        return list(queued.scalars())

    def unfinished(self, conversation_id: uuid.UUID) -> list[uuid.UUID]:
        """The conversation's chunks not done yet, in order."""
        return list(
            self.session.scalars(
                select(TranscriptChunk.id)
                .where(
                    TranscriptChunk.conversation_id == conversation_id,
                    TranscriptChunk.state == ChunkState.PENDING,
                )
                .order_by(TranscriptChunk.position)
            )
        )

    def claim(
        self, id: uuid.UUID, *, token: uuid.UUID, lease_until: datetime, now: datetime
    ) -> ChunkClaim | None:
        """Take an unfinished chunk nobody holds (or whose holder's lease lapsed) of a
        conversation being transcribed; None when it is not there for the taking."""
        row = self.execute(
            update(TranscriptChunk)
            .where(
                TranscriptChunk.id == id,
                TranscriptChunk.state == ChunkState.PENDING,
                lease_free(TranscriptChunk, now),
                exists().where(
                    Conversation.id == TranscriptChunk.conversation_id,
                    Conversation.status == ConversationStatus.TRANSCRIBING,
                ),
            )
            .values(
                lease_token=token,
                lease_expires_at=lease_until,
                deliveries=TranscriptChunk.deliveries + 1,
            )
            .returning(
                TranscriptChunk.conversation_id,
                TranscriptChunk.position,
                TranscriptChunk.start,
                TranscriptChunk.end,
                TranscriptChunk.deliveries,
                TranscriptChunk.speech,
                TranscriptChunk.language,
            )
        ).one_or_none()
        if row is None:
            return None
        conversation_id, position, start, end, deliveries, speech, planned = tuple(row)
        source_uri, title, language = self.session.execute(
            select(
                Conversation.source_uri, Conversation.title, Conversation.requested_language
            ).where(Conversation.id == conversation_id)
        ).one()
        names = list(
            self.session.scalars(_participant_names().where(Conversation.id == conversation_id))
        )
        return ChunkClaim(
            conversation_id,
            position,
            start,
            end,
            deliveries,
            source_uri,
            title,
            names,
            language or planned,
            None if speech is None else [(s, e) for s, e in speech],
        )

    def renew_lease(self, id: uuid.UUID, *, token: uuid.UUID, lease_until: datetime) -> bool:
        """Extend a held chunk's lease (a heartbeat); False when it was lost."""
        changed = self.update_where(
            TranscriptChunk.id == id,
            TranscriptChunk.lease_token == token,
            lease_expires_at=lease_until,
        )
        return changed == 1

    def hand_back(self, id: uuid.UUID, *, token: uuid.UUID, requeue_at: datetime | None) -> bool:
        """Give a held chunk back undone: for its retry (a transient error), due by
        `requeue_at`, or with no deadline (its conversation failed). Not counted as a
        delivery, as `ConversationRepository.hand_back`."""
        changed = self.update_where(
            TranscriptChunk.id == id,
            TranscriptChunk.lease_token == token,
            lease_token=None,
            lease_expires_at=requeue_at,
            deliveries=TranscriptChunk.deliveries - 1,
        )
        return changed == 1

    def store(
        self,
        id: uuid.UUID,
        *,
        token: uuid.UUID,
        result: dict[str, Any],
        worker: str,
        now: datetime,
        requeue_at: datetime,
    ) -> StoredChunk | None:
        """The chunk done with its `result`, if `token` still holds it (None otherwise, and
        nothing is written); the conversation's progress with it. The last chunk to land
        queues the conversation's transcription again (due by `requeue_at`), to stitch.

        In the caller's transaction, which locks the conversation row first: two chunks
        landing at once each count the other's as unfinished otherwise, and neither would
        see that it was the last.
        """
        conversation_id = self.session.scalar(
            select(TranscriptChunk.conversation_id).where(TranscriptChunk.id == id)
        )
        if conversation_id is None:
            return None
        self.session.execute(
            select(Conversation.id).where(Conversation.id == conversation_id).with_for_update()
        )
        stored = self.update_where(
            TranscriptChunk.id == id,
            TranscriptChunk.lease_token == token,
            TranscriptChunk.state == ChunkState.PENDING,
            state=ChunkState.DONE,
            result=result,
            worker=worker,
            done_at=now,
            lease_token=None,
            lease_expires_at=None,
        )
        if stored != 1:
            return None
        done, total = self._record_progress(conversation_id)
        if done == total:
            self.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.status == ConversationStatus.TRANSCRIBING,
                    Conversation.lease_token.is_(None),
                )
                .values(lease_expires_at=requeue_at, updated_at=now)
            )
        return StoredChunk(done, total)

    def finished(self, conversation_id: uuid.UUID) -> list[FinishedChunk] | None:
        """Every chunk's result in order; None unless every chunk is done."""
        rows = self.session.execute(
            select(TranscriptChunk.end, TranscriptChunk.result)
            .where(TranscriptChunk.conversation_id == conversation_id)
            .order_by(TranscriptChunk.position)
        ).all()
        if any(result is None for _, result in rows):
            return None
        return [FinishedChunk(end, result) for end, result in rows]

    def claim_stuck(self, *, now: datetime, requeue_at: datetime, limit: int) -> list[StuckChunk]:
        """Unfinished chunks of conversations being transcribed whose lease lapsed, handed
        back to the queue (due again by `requeue_at`), as `ConversationRepository.claim_stuck`."""
        statement = (
            select(
                TranscriptChunk.id,
                TranscriptChunk.conversation_id,
                TranscriptChunk.lease_token.is_not(None),
            )
            .where(
                TranscriptChunk.state == ChunkState.PENDING,
                TranscriptChunk.lease_expires_at < now,
                exists().where(
                    Conversation.id == TranscriptChunk.conversation_id,
                    Conversation.status == ConversationStatus.TRANSCRIBING,
                ),
            )
            .order_by(TranscriptChunk.lease_expires_at)
            .limit(limit)
            # SKIP LOCKED: two sweeps at once split the chunks instead of queueing one
            # behind the other.
            .with_for_update(of=TranscriptChunk, skip_locked=True)
        )
        stuck = [StuckChunk(*row) for row in self.session.execute(statement)]
        if stuck:
            self.update_where(
                TranscriptChunk.id.in_([chunk.id for chunk in stuck]),
                lease_token=None,
                lease_expires_at=requeue_at,
            )
        return stuck

    def _record_progress(self, conversation_id: uuid.UUID) -> tuple[int, int]:
        """The conversation's progress set to its chunks done over its chunks; those two."""
        done, total = self.session.execute(
            select(
                func.count(case((TranscriptChunk.state == ChunkState.DONE, 1))),
                func.count(),
            ).where(TranscriptChunk.conversation_id == conversation_id)
        ).one()
        self.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(progress=100 * done // total if total else 0)
        )
        return done, total
