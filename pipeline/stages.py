"""The pipeline's stages as plain functions: ids and a unit of work in, rows out.

Celery delivers at least once, so every stage is idempotent: it checks the lifecycle state
first, writes by replacing rather than appending, and moves the state with a
compare-and-set in the same transaction as its rows, so a second run (or a second worker)
either finds nothing to do or loses the race and rolls back.
"""

from __future__ import annotations

import enum
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from integrations.audio_sources import AudioSources
from integrations.diarization.naming import name_transcript
from integrations.diarization.timeline import timeline_from_json
from integrations.errors import TransientIntegrationError
from integrations.people import Roster, clean_name, is_anonymous, normalize_name
from integrations.synthesis.base import (
    ActionItem,
    Attendee,
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    Utterance,
)
from integrations.synthesis.chain import SynthesisChain
from integrations.transcription.base import TranscribedSegment, Transcriber, Transcript
from integrations.transcription.chunks import (
    ChunkPlan,
    LongRecordings,
    PlannedChunk,
    chunk_result,
    stitch,
)
from pipeline.delivery import NO_SERVER as NO_MAIL_SERVER
from pipeline.follow_up import follow_up_action_items
from pipeline.leases import DEFAULT_LEASES, ChunkHeartbeat, Heartbeat, Leases
from repositories.chunks import StuckChunk
from repositories.conversations import StuckConversation
from repositories.database import UnitOfWork
from repositories.models import ConversationStatus, EmailStatus, utc_now
from repositories.segments import NewSegment, SpokenText

Status = ConversationStatus
log = logging.getLogger(__name__)

GRAPH_EVENT_COMPLETED = "conversation.completed"
GRAPH_EVENT_RESYNTHESIZED = "conversation.resynthesized"

# Worth trying again later: an outside system away for now, or the database connection
# lost. Everything else is permanent and fails the conversation at once.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TransientIntegrationError,
    OperationalError,
    InterfaceError,
)

ProgressCallback = Callable[[int], None]


def _no_progress(percent: int) -> None:
    pass


class StageOutcome(enum.StrEnum):
    DONE = "done"
    # A long recording handed to its chunks (pipeline.transcribe_chunk, each), or the last
    # chunk landed and the whole is to be stitched (pipeline.transcribe again).
    CHUNKED = "chunked"
    LAST_CHUNK = "last_chunk"
    SKIPPED = "skipped"  # not in this stage's state: done before, or another worker has it
    GONE = "gone"  # the conversation was deleted meanwhile
    FAILED = "failed"  # given up: the stage kept losing its worker


class _LostRace(Exception):
    """Another worker took the stage over while this one worked: roll back, do nothing."""


def transcribe(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    transcriber: Transcriber,
    sources: AudioSources,
    leases: Leases = DEFAULT_LEASES,
    final_attempt: bool = True,
    on_progress: ProgressCallback = _no_progress,
    long_recordings: LongRecordings | None = None,
) -> StageOutcome:
    """pending -> transcribing -> synthesizing: the recording becomes ordered segments.

    `final_attempt` False means a transient error will be retried: the stage is handed
    back instead of failed. With `long_recordings`, a recording longer than its
    `chunk_seconds` is planned into chunks instead (CHUNKED: send `chunks_to_send`'s),
    and once every chunk is done, the next run stitches them and goes on as for any
    recording.
    """
    token = uuid.uuid4()
    # The claim is one statement, the participants' names read in it.
    with uow.autocommit() as claiming:
        now = utc_now()
        claim = claiming.conversations.claim_for_transcription(
            conversation_id, token=token, lease_until=leases.until(now), now=now
        )
        if claim is None:
            return _not_claimed(claiming, conversation_id)
    log.info("transcribing conversation_id=%s delivery=%d", conversation_id, claim.deliveries)
    if _given_up(conversation_id, uow, Status.TRANSCRIBING, token, claim.deliveries, leases):
        return StageOutcome.FAILED
    # The chunks' results only for a conversation that has chunks (the claim says).
    chunks = None
    if claim.has_chunks:
        with uow.autocommit() as reading:
            chunks = reading.chunks.finished(conversation_id)
        if chunks is None:
            # Chunks still owed (a retry, or a message sent twice): those nobody holds go
            # out again, the done ones are kept.
            return _hand_to_chunks(conversation_id, uow, token, None, leases)

    # No transaction is open while the recording is fetched and transcribed: that takes
    # minutes and must not hold a connection or locks.
    try:
        with _failures_recorded(
            conversation_id, uow, Status.TRANSCRIBING, token, leases, final_attempt
        ):
            # Checked when the upload was stored.
            timeline = timeline_from_json(claim.speaker_timeline or [])
            with (
                Heartbeat(
                    conversation_id, token=token, uow=uow, leases=leases, on_progress=on_progress
                ) as heartbeat,
                sources.fetch(claim.source_uri, owner=str(conversation_id)) as path,
            ):
                plan = None
                if chunks is not None:
                    assert long_recordings is not None  # chunks are planned only with it
                    transcript = long_recordings.speakers.label_speakers(
                        path,
                        stitch([chunk.result for chunk in chunks], chunks[-1].end),
                        participants=claim.participants,
                        timeline=timeline,
                        on_progress=heartbeat.report,
                    )
                elif (
                    long_recordings is None
                    or (plan := long_recordings.plan(path, language=claim.language)) is None
                ):
                    transcript = transcriber.transcribe(
                        path,
                        title=claim.title,
                        participants=claim.participants,
                        timeline=timeline,
                        # The upload's language, if it named one; None detects it.
                        language=claim.language,
                        on_progress=heartbeat.report,
                    )
            if plan is not None:
                return _hand_to_chunks(conversation_id, uow, token, plan, leases)
            # Anonymous voices the meeting names ("I'm Maria") get the participant's name.
            transcript = name_transcript(transcript, [Attendee(n) for n in claim.participants])
            # One statement on PostgreSQL, atomic by itself: no transaction around it.
            with uow.autocommit() as writing:
                # A compare-and-set: a worker that lost its lease writes nothing. Notes of an
                # earlier run, describing the old transcript, go with it.
                moved = writing.conversations.store_transcript(
                    conversation_id,
                    holder=token,
                    transcript=[_new_segment(segment) for segment in transcript.segments],
                    speakers=_new_speakers(claim.participants, transcript),
                    earlier=not claim.is_first,
                    lease_expires_at=leases.requeue_at(utc_now()),
                    language=transcript.language,
                    duration_seconds=transcript.duration,
                    transcription_provider=transcript.provider,
                    transcription_model=transcript.model,
                    transcription_passed_over=[asdict(p) for p in transcript.passed_over],
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


def transcribe_chunk(
    conversation_id: uuid.UUID,
    chunk_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    long_recordings: LongRecordings,
    sources: AudioSources,
    leases: Leases = DEFAULT_LEASES,
    final_attempt: bool = True,
) -> StageOutcome:
    """One chunk of a long recording transcribed and kept; LAST_CHUNK when it was the last
    one to land (send pipeline.transcribe, which stitches them).

    The chunk is leased like a stage: a worker that dies mid-chunk stops renewing, and the
    chunk's message (redelivered, or sent again by the sweep) takes it over. A done chunk
    is never taken again.
    """
    token = uuid.uuid4()
    with uow:
        now = utc_now()
        claim = uow.chunks.claim(chunk_id, token=token, lease_until=leases.until(now), now=now)
        if claim is None:
            return StageOutcome.SKIPPED if uow.chunks.exists(chunk_id) else StageOutcome.GONE
    log.info(
        "transcribing chunk conversation_id=%s chunk=%d delivery=%d",
        conversation_id,
        claim.position,
        claim.deliveries,
    )
    if claim.deliveries > leases.max_deliveries:
        fail(
            conversation_id,
            uow=uow,
            expected=Status.TRANSCRIBING,
            error=(
                f"gave up on chunk {claim.position + 1} after {claim.deliveries - 1} tries: the "
                "worker was lost each time (killed, out of memory, or over its time limit)"
            ),
        )
        return StageOutcome.FAILED

    try:
        # No conversation lease to hand back (the chunks hold theirs): a permanent error
        # fails the conversation, a transient one gives the chunk back for its retry.
        with _failures_recorded(
            conversation_id, uow, Status.TRANSCRIBING, None, leases, final_attempt
        ):
            with (
                ChunkHeartbeat(chunk_id, conversation_id, token=token, uow=uow, leases=leases),
                sources.fetch(claim.source_uri, owner=str(conversation_id)) as path,
            ):
                transcript = long_recordings.transcribe_span(
                    path,
                    PlannedChunk(
                        claim.start,
                        claim.end,
                        None if claim.speech is None else tuple(claim.speech),
                    ),
                    title=claim.title,
                    participants=claim.participants,
                    language=claim.language,
                )
            with uow:
                now = utc_now()
                stored = uow.chunks.store(
                    chunk_id,
                    token=token,
                    result=chunk_result(transcript),
                    worker=_worker_name(),
                    now=now,
                    requeue_at=leases.requeue_at(now),
                )
    except Exception as error:
        # The chunk comes back undone either way: for its retry, due by the lease's
        # deadline; or, the conversation failed, for a `minutes retry` to send it again.
        retried = isinstance(error, TRANSIENT_ERRORS) and not final_attempt
        try:
            with uow:
                uow.chunks.hand_back(
                    chunk_id,
                    token=token,
                    requeue_at=leases.requeue_at(utc_now()) if retried else None,
                )
        except SQLAlchemyError:
            # The database is away: the chunk's lease lapses and the sweep sends it again.
            log.warning("could not hand back chunk_id=%s", chunk_id, exc_info=True)
        raise
    if stored is None:
        return StageOutcome.SKIPPED  # the lease lapsed and another worker took the chunk
    log.info(
        "transcribed chunk conversation_id=%s chunk=%d done=%d/%d",
        conversation_id,
        claim.position,
        stored.done,
        stored.total,
    )
    return StageOutcome.LAST_CHUNK if stored.last else StageOutcome.DONE


def chunks_to_send(conversation_id: uuid.UUID, *, uow: UnitOfWork) -> list[uuid.UUID]:
    """The chunks of a conversation that CHUNKED whose transcription is owed, in order."""
    with uow:
        return uow.chunks.unfinished(conversation_id)


def _worker_name() -> str:
    """Stored with each chunk a worker transcribes, for operators watching the spread."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _hand_to_chunks(
    conversation_id: uuid.UUID,
    uow: UnitOfWork,
    token: uuid.UUID,
    plan: ChunkPlan | None,
    leases: Leases,
) -> StageOutcome:
    """`plan` None: the chunks are planned already."""
    with uow:
        now = utc_now()
        queued = uow.chunks.hand_over(
            conversation_id,
            holder=token,
            spans=[(c.start, c.end, c.speech) for c in plan.chunks] if plan else [],
            language=plan.language if plan else None,
            now=now,
            requeue_at=leases.requeue_at(now),
        )
    if queued is None:
        return StageOutcome.SKIPPED
    log.info("chunked conversation_id=%s chunks_queued=%d", conversation_id, len(queued))
    return StageOutcome.CHUNKED


def synthesize(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    synthesizer: SynthesisChain,
    leases: Leases = DEFAULT_LEASES,
    final_attempt: bool = True,
    on_progress: ProgressCallback = _no_progress,
    mail_notes: bool = True,
) -> StageOutcome:
    """synthesizing -> completed: stores the notes of a transcribed conversation and who
    spoke how much, with the graph outbox event and the action items' follow-up marked due,
    in one statement (one transaction on SQLite).

    `mail_notes` False (no mail server is set) records the notes' email as skipped at once,
    so no delivery is left pending for `notify.email`.
    """
    token = uuid.uuid4()
    # The claim is one statement, the participants' names and the transcript read in it.
    with uow.autocommit() as claiming:
        now = utc_now()
        claim = claiming.conversations.claim_for_synthesis(
            conversation_id, token=token, lease_until=leases.until(now), now=now
        )
        if claim is None:
            return _not_claimed(claiming, conversation_id)
    # A segment's id is its position: the transcript is read in order, numbered from 0.
    utterances = [
        Utterance(segment_id=position, text=s.text, speaker=s.speaker, start=s.start, end=s.end)
        for position, s in enumerate(claim.transcript)
    ]
    meeting = MeetingContext(
        title=claim.title,
        attendees=[
            Attendee(name, claim.emails.get(name), name in claim.organizers)
            for name in claim.participants
        ],
        started_at=claim.started_at,
        language=claim.language,
    )
    log.info("synthesizing conversation_id=%s delivery=%d", conversation_id, claim.deliveries)
    if _given_up(conversation_id, uow, Status.SYNTHESIZING, token, claim.deliveries, leases):
        return StageOutcome.FAILED

    try:
        with _failures_recorded(
            conversation_id, uow, Status.SYNTHESIZING, token, leases, final_attempt
        ):
            with Heartbeat(
                conversation_id, token=token, uow=uow, leases=leases, on_progress=on_progress
            ):
                notes = synthesizer.synthesize(utterances, meeting, final_attempt=final_attempt)
            row = _synthesis_row(notes)
            if not mail_notes:
                row.update(email_status=EmailStatus.SKIPPED, email_error=NO_MAIL_SERVER)
            # One statement on PostgreSQL, atomic by itself: no transaction around it.
            with uow.autocommit() as writing:
                # The lease is the compare-and-set: it fails when another worker took the
                # stage over meanwhile, and then writes nothing. The claim required no notes,
                # and only the lease holder writes them.
                completed_at = utc_now()
                if not writing.conversations.complete_with_notes(
                    conversation_id,
                    token=token,
                    notes=row,
                    spoken=_speaking(claim.participants, claim.transcript),
                    completed_at=completed_at,
                    event_type=GRAPH_EVENT_COMPLETED,
                    payload=_completion_payload(conversation_id, completed_at),
                ):
                    raise _LostRace
    except _LostRace:
        return StageOutcome.SKIPPED
    log.info("completed conversation_id=%s", conversation_id)
    return StageOutcome.DONE


def complete(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, final_attempt: bool = True
) -> StageOutcome:
    """synthesizing -> completed for notes stored apart from the completion, with the graph
    outbox event: the rows of a version whose synthesis stopped before completing (the
    synthesis stage now completes in the notes' own statement)."""
    with (
        _failures_recorded(
            conversation_id, uow, Status.SYNTHESIZING, None, DEFAULT_LEASES, final_attempt
        ),
        uow.autocommit() as completing,
    ):
        # The compare-and-set writes the event only when it moves the row: a stale
        # message (from before a retry, when no notes are stored yet) writes neither.
        completed_at = utc_now()
        if not completing.conversations.complete(
            conversation_id,
            completed_at=completed_at,
            event_type=GRAPH_EVENT_COMPLETED,
            payload=_completion_payload(conversation_id, completed_at),
        ):
            return _not_claimed(completing, conversation_id)
    log.info("completed conversation_id=%s", conversation_id)
    return StageOutcome.DONE


def _completion_payload(conversation_id: uuid.UUID, completed_at: datetime) -> dict[str, str]:
    # The row's own instant: the graph mirror's meeting says when the row says it completed.
    return {"conversation_id": str(conversation_id), "completed_at": completed_at.isoformat()}


def resynthesize(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    synthesizer: SynthesisChain,
    final_attempt: bool = True,
) -> StageOutcome:
    """New notes for a completed conversation from its stored transcript, in place of the
    old ones; nothing is transcribed again.

    The notes and a graph outbox event are written in one transaction, so the graph
    follows: the sync reads the meeting as it is now and replaces its items. SKIPPED when
    the conversation is not completed (or stops being so meanwhile); its lifecycle state
    never changes here, and an error leaves the old notes in place.
    """
    with uow:
        conversation = uow.conversations.get_with_transcript(conversation_id)
        if conversation is None:
            return StageOutcome.GONE
        if conversation.status is not Status.COMPLETED:
            return StageOutcome.SKIPPED
        utterances = [
            Utterance(
                segment_id=segment.position,
                text=segment.text,
                speaker=segment.speaker,
                start=segment.start,
                end=segment.end,
            )
            for segment in conversation.segments
        ]
        meeting = MeetingContext(
            title=conversation.title,
            attendees=[
                Attendee(name=p.name, email=p.email, is_organizer=p.is_organizer)
                for p in conversation.participants
            ],
            started_at=conversation.started_at or conversation.created_at,
            language=conversation.language,
        )
    log.info("resynthesizing conversation_id=%s", conversation_id)
    # No transaction is open while the provider writes: that may take minutes.
    notes = synthesizer.synthesize(utterances, meeting, final_attempt=final_attempt)
    with uow:
        # Locked until the notes are in: a deletion or a retry meanwhile waits, or wins.
        current = uow.conversations.get_by_id(conversation_id, for_update=True)
        if current is None:
            return StageOutcome.GONE
        if current.status is not Status.COMPLETED:
            return StageOutcome.SKIPPED
        uow.syntheses.replace_for_conversation(conversation_id, **_synthesis_row(notes))
        uow.graph_outbox.add_event(
            conversation_id,
            GRAPH_EVENT_RESYNTHESIZED,
            {"conversation_id": str(conversation_id), "provider": notes.provider},
        )
        follow_up_action_items(conversation_id, uow=uow)
    log.info("resynthesized conversation_id=%s provider=%s", conversation_id, notes.provider)
    return StageOutcome.DONE


@dataclass(frozen=True, slots=True)
class Sweep:
    lost: list[StuckConversation]  # to send again
    examined: int  # lapsed conversations (and chunks) looked at: the limit means more
    lost_chunks: list[StuckChunk] = field(default_factory=list)  # to send again


def requeue_stuck(
    *,
    uow: UnitOfWork,
    leases: Leases,
    still_queued: Callable[[Sequence[StuckConversation]], Collection[uuid.UUID]],
    chunks_still_queued: Callable[[Sequence[StuckChunk]], Collection[uuid.UUID]] = (
        lambda chunks: ()
    ),
    limit: int = 500,
) -> Sweep:
    """Unfinished conversations, and chunks of long recordings, whose lease lapsed and
    whose work is lost, to send again.

    A lapsed worker's lease means the worker died. A queued stage's lease lapses
    `leases.requeue_after` after it was queued: `still_queued` (the broker's records) then
    tells a message still waiting in a backlog, left alone, from one the broker lost;
    `chunks_still_queued` likewise for chunks (by default none is: all are sent again, and
    a chunk's claim lets only one run). Every one examined is looked at again only once
    `leases.requeue_after` has passed again.
    """
    with uow:
        now = utc_now()
        lapsed = uow.conversations.claim_stuck(
            now=now, requeue_at=leases.requeue_at(now), limit=limit
        )
        lapsed_chunks = uow.chunks.claim_stuck(
            now=now, requeue_at=leases.requeue_at(now), limit=limit
        )
        waiting = still_queued([c for c in lapsed if not c.leased])
        chunks_waiting = chunks_still_queued([c for c in lapsed_chunks if not c.leased])
    lost = [conversation for conversation in lapsed if conversation.id not in waiting]
    for conversation in lost:
        log.warning(
            "requeued stuck conversation_id=%s status=%s worker_lost=%s",
            conversation.id,
            conversation.status,
            conversation.leased,
        )
    lost_chunks = [chunk for chunk in lapsed_chunks if chunk.id not in chunks_waiting]
    for chunk in lost_chunks:
        log.warning(
            "requeued stuck chunk conversation_id=%s chunk_id=%s worker_lost=%s",
            chunk.conversation_id,
            chunk.id,
            chunk.leased,
        )
    return Sweep(lost=lost, examined=max(len(lapsed), len(lapsed_chunks)), lost_chunks=lost_chunks)


def fail(
    conversation_id: uuid.UUID,
    *,
    uow: UnitOfWork,
    expected: ConversationStatus,
    error: str,
    holder: uuid.UUID | None = None,
) -> bool:
    """Records a permanent failure; False when the conversation had moved on meanwhile
    (or, given a `holder`, another worker had taken the stage over)."""
    with uow:
        failed = uow.conversations.transition(
            conversation_id,
            expected=expected,
            target=Status.FAILED,
            holder=holder,
            error_message=error,
        )
    if failed:
        log.warning("failed conversation_id=%s error=%s", conversation_id, error)
    return failed


def reset_for_retry(
    conversation_id: uuid.UUID, *, uow: UnitOfWork, leases: Leases = DEFAULT_LEASES
) -> bool:
    """failed -> pending, so the pipeline can run again; False when it is not failed."""
    with uow:
        return uow.conversations.transition(
            conversation_id,
            expected=Status.FAILED,
            target=Status.PENDING,
            lease_expires_at=leases.requeue_at(utc_now()),
            error_message=None,
        )


def _not_claimed(uow: UnitOfWork, conversation_id: uuid.UUID) -> StageOutcome:
    # The rare path, so the hot one stays a single UPDATE: say why the claim found nothing.
    if uow.conversations.exists(conversation_id):
        return StageOutcome.SKIPPED
    return StageOutcome.GONE


def _speaking(names: Sequence[str], spoken: Sequence[SpokenText]) -> dict[str, tuple[float, int]]:
    """Seconds and words spoken, by the name of the participant (of `names`) who spoke."""
    roster = Roster(names)
    seconds: dict[str, float] = defaultdict(float)
    words: dict[str, int] = defaultdict(int)
    for segment in spoken:
        name = roster.match(segment.speaker) if segment.speaker else None
        if name is not None:
            seconds[name] += segment.end - segment.start
            words[name] += len(segment.text.split())
    return {name: (round(seconds[name], 3), words[name]) for name in seconds}


def _given_up(
    conversation_id: uuid.UUID,
    uow: UnitOfWork,
    status: ConversationStatus,
    token: uuid.UUID,
    deliveries: int,
    leases: Leases,
) -> bool:
    if deliveries <= leases.max_deliveries:
        return False
    fail(
        conversation_id,
        uow=uow,
        expected=status,
        holder=token,
        error=(
            f"gave up after {deliveries - 1} tries: the worker was lost each time "
            "(killed, out of memory, or over its time limit)"
        ),
    )
    return True


@contextmanager
def _failures_recorded(
    conversation_id: uuid.UUID,
    uow: UnitOfWork,
    status: ConversationStatus,
    token: uuid.UUID | None,
    leases: Leases,
    final_attempt: bool,
) -> Iterator[None]:
    """What an error in a claimed stage means for the conversation; the error propagates.

    A transient error that will be retried hands the stage back (the retry takes it without
    waiting for the lease to lapse); any other error, or the last retry's, fails it.
    """
    try:
        yield
    except _LostRace:
        raise
    except Exception as error:
        message = str(error) or type(error).__name__
        try:
            if isinstance(error, TRANSIENT_ERRORS) and not final_attempt:
                if token is not None:
                    with uow:
                        uow.conversations.hand_back(
                            conversation_id, token=token, requeue_at=leases.requeue_at(utc_now())
                        )
            else:
                fail(
                    conversation_id,
                    uow=uow,
                    expected=status,
                    holder=token,
                    error=message,
                )
        except SQLAlchemyError:
            # The database itself is away: the lease lapses and the recovery sweep takes the
            # conversation from there. The original error is the one worth raising.
            log.warning(
                "could not record the error conversation_id=%s", conversation_id, exc_info=True
            )
        raise


def _synthesis_row(notes: Notes) -> dict[str, Any]:
    """The syntheses columns that hold `notes`."""
    return {
        "summary": notes.summary,
        "key_decisions": [_stored_item(item) for item in notes.key_decisions],
        "action_items": [_stored_action_item(item) for item in notes.action_items],
        "open_questions": [_stored_item(item) for item in notes.open_questions],
        "key_topics": list(notes.key_topics),
        "provider": notes.provider,
        "model": notes.model,
        "prompt_tokens": notes.prompt_tokens,
        "completion_tokens": notes.completion_tokens,
        "seconds": notes.seconds,
        "dropped_items": notes.dropped_items,
    }


def _stored_evidence(evidence: Evidence | None) -> dict[str, Any] | None:
    if evidence is None:
        return None
    return {"segment_ids": list(evidence.segment_ids), "quote": evidence.quote}


def _stored_item(item: NoteItem) -> dict[str, Any]:
    return {"text": item.text, "evidence": _stored_evidence(item.evidence)}


def _stored_action_item(item: ActionItem) -> dict[str, Any]:
    return {
        "text": item.text,
        "owner": item.owner,
        "owner_email": item.owner_email,
        "due": item.due,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "evidence": _stored_evidence(item.evidence),
    }


def _new_segment(segment: TranscribedSegment) -> NewSegment:
    return NewSegment(
        start=segment.start,
        end=segment.end,
        text=segment.text,
        speaker=segment.speaker,
        words=[asdict(word) for word in segment.words],
    )


def _new_speakers(names: Sequence[str], transcript: Transcript) -> list[str]:
    """The speakers who are none of `names` (the participants the claim read), to add.

    Until none is left: a speaker added can make another one's first name shared ("Ann"
    with "Ann Lee" invited and "Ann Ho" speaking), and so no one's, as the synthesis will
    find it when it counts who spoke how much."""
    # A label that normalizes to nothing (only marks no name is spelled with) names no one;
    # nor does a diarizer's "Speaker 2", which would be one person across all meetings.
    labels = [segment.speaker for segment in transcript.segments if segment.speaker]
    speakers = list(
        dict.fromkeys(
            label for label in labels if normalize_name(label) and not is_anonymous(label)
        )
    )
    known = list(names)
    added: dict[str, str] = {}
    while True:
        roster = Roster(known)
        new = {
            normalize_name(speaker): clean_name(speaker)
            for speaker in speakers
            if roster.match(speaker) is None
        }
        if not new:
            break
        known += new.values()
        added.update(new)
    return list(added.values())
