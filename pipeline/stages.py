"""The pipeline's stages as plain functions: ids and a unit of work in, rows out.

Celery delivers at least once, so every stage is idempotent: it checks the lifecycle state
first, writes by replacing rather than appending, and moves the state with a
compare-and-set in the same transaction as its rows, so a second run (or a second worker)
either finds nothing to do or loses the race and rolls back.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Protocol

from integrations.audio_sources import LocalAudioSource
from integrations.errors import IntegrationError
from integrations.synthesis.base import Notes, Utterance
from integrations.transcription.base import TranscribedSegment, Transcript
from integrations.transcription.local import build_prompt
from integrations.transcription.platform import is_transcript_file, parse_transcript_file
from repositories.database import UnitOfWork
from repositories.models import ConversationStatus, utc_now
from repositories.segments import NewSegment

Status = ConversationStatus
log = logging.getLogger(__name__)

GRAPH_EVENT_COMPLETED = "conversation.completed"


class Transcriber(Protocol):
    def transcribe(self, path: Path, *, prompt: str | None = None) -> Transcript: ...


class Synthesizer(Protocol):
    def synthesize(
        self,
        *,
        utterances: Sequence[Utterance],
        title: str | None = None,
        participants: Sequence[str] = (),
    ) -> Notes: ...


class StageOutcome(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"  # not in this stage's state: done before, or another worker has it
    GONE = "gone"  # the conversation was deleted meanwhile


class IllegalStageOrderError(RuntimeError):
    """A stage was asked to run before the one it builds on."""


class _LostRace(Exception):
    """Another worker moved the conversation while this one worked: roll back, do nothing."""


def transcribe(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    transcriber: Transcriber,
    sources: LocalAudioSource,
) -> StageOutcome:
    """pending -> transcribing -> synthesizing: the recording becomes ordered segments."""
    with uow:
        conversation = uow.conversations.get_with_participants(conversation_id)
        if conversation is None:
            return StageOutcome.GONE
        if conversation.status == Status.PENDING:
            claimed = uow.conversations.transition(
                conversation_id,
                expected=Status.PENDING,
                target=Status.TRANSCRIBING,
                attempts=conversation.attempts + 1,
                error_message=None,
            )
            if not claimed:
                return StageOutcome.SKIPPED
        elif conversation.status != Status.TRANSCRIBING:
            # TRANSCRIBING is redelivery after a lost worker: transcribe again, the final
            # compare-and-set decides whose segments stay.
            return StageOutcome.SKIPPED
        source_uri = conversation.source_uri
        prompt = build_prompt(conversation.title, [p.name for p in conversation.participants])

    # No transaction is open here: a transcription takes minutes and must not hold a
    # connection or locks while it runs.
    try:
        path = sources.resolve(source_uri)
        if is_transcript_file(path):
            transcript = parse_transcript_file(path)
        else:
            transcript = transcriber.transcribe(path, prompt=prompt)
    except IntegrationError as error:
        fail(conversation_id, uow=uow, expected=Status.TRANSCRIBING, error=str(error))
        raise

    try:
        with uow:
            uow.segments.replace_for_conversation(
                conversation_id, [_new_segment(segment) for segment in transcript.segments]
            )
            _add_speakers_as_participants(uow, conversation_id, transcript)
            moved = uow.conversations.transition(
                conversation_id,
                expected=Status.TRANSCRIBING,
                target=Status.SYNTHESIZING,
                language=transcript.language,
                duration_seconds=transcript.duration,
                transcription_provider=transcript.provider,
                word_count=sum(len(segment.text.split()) for segment in transcript.segments),
            )
            if not moved:
                raise _LostRace
    except _LostRace:
        return StageOutcome.SKIPPED
    log.info(
        "transcribed conversation_id=%s segments=%d", conversation_id, len(transcript.segments)
    )
    return StageOutcome.DONE


def synthesize(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, synthesizer: Synthesizer
) -> StageOutcome:
    """Stores the notes of a transcribed conversation; its state stays synthesizing."""
    with uow:
        conversation = uow.conversations.get_with_participants(conversation_id)
        if conversation is None:
            return StageOutcome.GONE
        if conversation.status != Status.SYNTHESIZING:
            return StageOutcome.SKIPPED
        title = conversation.title
        names = [participant.name for participant in conversation.participants]
        utterances = [
            Utterance(text=s.text, speaker=s.speaker, start=s.start, end=s.end)
            for s in uow.segments.list_for_conversation(conversation_id)
        ]

    try:
        notes = synthesizer.synthesize(utterances=utterances, title=title, participants=names)
    except IntegrationError as error:
        fail(conversation_id, uow=uow, expected=Status.SYNTHESIZING, error=str(error))
        raise

    with uow:
        if not uow.conversations.lock_in_status(conversation_id, Status.SYNTHESIZING):
            return StageOutcome.SKIPPED
        uow.syntheses.save_for_conversation(
            conversation_id,
            summary=notes.summary,
            key_decisions=list(notes.key_decisions),
            action_items=[asdict(item) for item in notes.action_items],
            open_questions=list(notes.open_questions),
            key_topics=list(notes.key_topics),
            provider=notes.provider,
            model=notes.model,
            prompt_tokens=notes.prompt_tokens,
            completion_tokens=notes.completion_tokens,
        )
    log.info("synthesized conversation_id=%s", conversation_id)
    return StageOutcome.DONE


def complete(conversation_id: uuid.UUID, *, uow: UnitOfWork) -> StageOutcome:
    """synthesizing -> completed, with speaking statistics and the graph outbox event.

    One transaction, so the graph hears of exactly the conversations that completed.
    """
    try:
        with uow:
            conversation = uow.conversations.get_with_participants(conversation_id)
            if conversation is None:
                return StageOutcome.GONE
            if conversation.status != Status.SYNTHESIZING:
                return StageOutcome.SKIPPED
            if uow.syntheses.get_by_conversation(conversation_id) is None:
                raise IllegalStageOrderError(f"conversation {conversation_id} has no notes yet")
            seconds: dict[str, float] = defaultdict(float)
            words: dict[str, int] = defaultdict(int)
            for segment in uow.segments.list_for_conversation(conversation_id):
                if segment.speaker:
                    seconds[segment.speaker.casefold()] += segment.end - segment.start
                    words[segment.speaker.casefold()] += len(segment.text.split())
            for participant in conversation.participants:
                key = participant.name.casefold()
                uow.participants.update(
                    participant,
                    spoken_seconds=round(seconds[key], 3) if key in seconds else None,
                    word_count=words.get(key),
                )
            completed_at = utc_now()
            moved = uow.conversations.transition(
                conversation_id,
                expected=Status.SYNTHESIZING,
                target=Status.COMPLETED,
                completed_at=completed_at,
            )
            if not moved:
                raise _LostRace
            uow.graph_outbox.add_event(
                conversation_id,
                GRAPH_EVENT_COMPLETED,
                {"conversation_id": str(conversation_id), "completed_at": completed_at.isoformat()},
            )
    except _LostRace:
        return StageOutcome.SKIPPED
    log.info("completed conversation_id=%s", conversation_id)
    return StageOutcome.DONE


def fail(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, expected: ConversationStatus, error: str
) -> bool:
    """Records a permanent failure; False when the conversation had moved on meanwhile."""
    with uow:
        failed = uow.conversations.transition(
            conversation_id, expected=expected, target=Status.FAILED, error_message=error
        )
    if failed:
        log.warning("failed conversation_id=%s error=%s", conversation_id, error)
    return failed


def reset_for_retry(conversation_id: uuid.UUID, *, uow: UnitOfWork) -> bool:
    """failed -> pending, so the pipeline can run again; False when it is not failed."""
    with uow:
        return uow.conversations.transition(
            conversation_id, expected=Status.FAILED, target=Status.PENDING, error_message=None
        )


def _new_segment(segment: TranscribedSegment) -> NewSegment:
    return NewSegment(
        start=segment.start,
        end=segment.end,
        text=segment.text,
        speaker=segment.speaker,
        words=[asdict(word) for word in segment.words],
    )


def _add_speakers_as_participants(
    uow: UnitOfWork, conversation_id: uuid.UUID, transcript: Transcript
) -> None:
    known = {p.name.casefold() for p in uow.participants.list_for_conversation(conversation_id)}
    for segment in transcript.segments:
        speaker = segment.speaker
        if speaker and speaker.casefold() not in known:
            uow.participants.create(conversation_id=conversation_id, name=speaker)
            known.add(speaker.casefold())
