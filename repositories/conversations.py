"""Conversations and their lifecycle."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    CTE,
    JSON,
    ColumnElement,
    Insert,
    Row,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from repositories.base import Repository, lease_free
from repositories.models import (
    Conversation,
    ConversationStatus,
    Participant,
    Synthesis,
    TranscriptChunk,
    TranscriptSegment,
    UTCDateTime,
    utc_now,
)
from repositories.outbox import EVENT_INSERT, GraphOutboxRepository
from repositories.participants import (
    ParticipantRepository,
    names_insert_selected,
    speaking_parameters,
    speaking_update_selected,
)
from repositories.segments import (
    NewSegment,
    SpokenText,
    TranscriptSegmentRepository,
    segment_rows,
    segments_delete_beyond,
    segments_insert_selected,
)
from repositories.syntheses import (
    SynthesisRepository,
    notes_delete_selected,
    notes_insert_selected,
    notes_parameters,
)

Status = ConversationStatus

# The lifecycle's only legal moves; anything else is a bug in the caller, not a race.
TRANSITIONS: dict[ConversationStatus, frozenset[ConversationStatus]] = {
    Status.PENDING: frozenset({Status.TRANSCRIBING, Status.FAILED}),
    Status.TRANSCRIBING: frozenset({Status.SYNTHESIZING, Status.FAILED}),
    Status.SYNTHESIZING: frozenset({Status.COMPLETED, Status.FAILED}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset({Status.PENDING}),
}

# Each state stamps the moment it was entered.
_ENTERED_AT = {
    Status.TRANSCRIBING: "transcribing_at",
    Status.SYNTHESIZING: "synthesizing_at",
    Status.COMPLETED: "completed_at",
    Status.FAILED: "failed_at",
}


class IllegalTransitionError(ValueError):
    def __init__(self, source: ConversationStatus, target: ConversationStatus) -> None:
        super().__init__(f"a conversation cannot go from {source} to {target}")
        self.source = source
        self.target = target


# The states in which a conversation is owed work by some worker or queue.
UNFINISHED = (Status.PENDING, Status.TRANSCRIBING, Status.SYNTHESIZING)


@dataclass(frozen=True, slots=True)
class Claim:
    """A stage taken: how many times it has been (this one included), and what it reads."""

    deliveries: int
    attempts: int  # runs of the pipeline (retries of a failed conversation add one)
    source_uri: str
    title: str | None
    participants: list[str]  # their names, in order
    transcript: list[SpokenText]  # in order; read for a synthesis only
    # What the notes are written against (a synthesis reads them; a transcription does not)
    emails: dict[str, str] = field(default_factory=dict)  # participant name -> address
    organizers: frozenset[str] = frozenset()  # their names
    # When the meeting started, else when it was created: what "Friday" is relative to.
    started_at: datetime | None = None
    # A synthesis reads the language the transcript is in; a transcription, the language
    # the upload asked for (None: detect it).
    language: str | None = None
    # Who spoke when, as given with the upload (JSON turns); read for a transcription only.
    speaker_timeline: list[Any] | None = None
    # Its recording was planned into chunks (a long one); read for a transcription only.
    has_chunks: bool = False

    @property
    def is_first(self) -> bool:
        """The first run's first take: nothing from an earlier one to replace (a take handed
        back undone is not counted, and it wrote nothing)."""
        return self.deliveries == 1 and self.attempts == 1


@dataclass(frozen=True, slots=True)
class StuckConversation:
    id: uuid.UUID
    status: ConversationStatus
    # A worker had taken the stage and stopped renewing its lease: it died. Otherwise the
    # stage was queued and nobody has taken it yet: its message waits, or was lost.
    leased: bool
    notes_stored: bool  # synthesizing with its notes: what it waits for is its completion


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str
    email: str | None
    is_organizer: bool
    spoken_seconds: float | None
    word_count: int | None


@dataclass(frozen=True, slots=True)
class CompletedConversation:
    """A completed conversation, its people and its notes: what the graph is made from."""

    id: uuid.UUID
    title: str | None
    completed_at: datetime | None
    started_at: datetime | None
    duration_seconds: float | None
    platform: str | None
    language: str | None
    participants: list[Attendee]  # by name
    summary: str | None  # None, and no items, when the conversation has no notes
    key_topics: list[Any]
    key_decisions: list[Any]
    open_questions: list[Any]
    action_items: list[Any]
    # When each item's first cited segment starts, by the segment's position.
    cited_starts: dict[int, float] = field(default_factory=dict)


class ConversationRepository(Repository[Conversation]):
    model = Conversation

    def transition(
        self,
        id: uuid.UUID,
        *,
        expected: ConversationStatus,
        target: ConversationStatus,
        holder: uuid.UUID | None = None,
        notes_stored: bool = False,
        **values: Any,
    ) -> bool:
        """Move one conversation from `expected` to `target`, setting `values` with it.

        `notes_stored` asks that the conversation's notes be stored.

        Compare-and-set in one UPDATE: False means the row was not in `expected` (another
        worker moved it first, or it is gone), or, given a `holder`, that lease is no longer
        held, and nothing was written. The new state starts unclaimed: its lease is ended,
        unless `values` set `lease_expires_at` (the time by which it must be picked up).
        """
        statement, parameters = _transition(id, expected, target, holder, notes_stored, values)
        changed = self.execute(statement, parameters).rowcount
        return changed == 1

    def complete(
        self, id: uuid.UUID, *, completed_at: datetime, event_type: str, payload: dict[str, Any]
    ) -> bool:
        """synthesizing -> completed, if the notes are stored (a stale message finds none),
        with its graph outbox event; neither is written when the other is not.

        On PostgreSQL one statement: the compare-and-set in a data-modifying CTE whose
        returned row the event's INSERT selects, a round trip fewer on the hot path.
        """
        if self.scope.dialect != "postgresql":
            if not self.transition(
                id,
                expected=Status.SYNTHESIZING,
                target=Status.COMPLETED,
                notes_stored=True,
                completed_at=completed_at,
                follow_up_due=True,
            ):
                return False
            GraphOutboxRepository(self.scope).add_event(id, event_type, payload)
            return True
        statement, parameters = _transition(
            id,
            Status.SYNTHESIZING,
            Status.COMPLETED,
            None,
            True,
            {"completed_at": completed_at, "follow_up_due": True},
        )
        parameters.update(
            event_id=uuid.uuid4(),
            event_created_at=utc_now(),
            event_type=event_type,
            event_payload=payload,
        )
        event = self.execute(_completion_with_event(statement), parameters).scalar()
        return event is not None

    def store_transcript(
        self,
        id: uuid.UUID,
        *,
        holder: uuid.UUID,
        transcript: Sequence[NewSegment],
        speakers: Sequence[str],
        earlier: bool,
        **values: Any,
    ) -> bool:
        """transcribing -> synthesizing under `holder`'s lease, setting `values`, with the
        `transcript` (replacing an `earlier` run's, whose notes go too) and the `speakers`
        the participants lack added as participants.

        The compare-and-set first: False means the lease was lost, and nothing is written.
        On PostgreSQL one statement (the writes select the row the compare-and-set returns),
        atomic without a transaction around it, so it needs none: BEGIN and COMMIT would
        cost a round trip each on every meeting. Elsewhere one statement after the other,
        in the caller's transaction.
        """
        if self.scope.dialect != "postgresql":
            if not self.transition(
                id,
                expected=Status.TRANSCRIBING,
                target=Status.SYNTHESIZING,
                holder=holder,
                **values,
            ):
                return False
            TranscriptSegmentRepository(self.scope).replace_for_conversation(
                id, transcript, earlier=earlier
            )
            ParticipantRepository(self.scope).add_names(id, speakers)
            if earlier:
                SynthesisRepository(self.scope).delete_for_conversation(id)
            return True
        statement, parameters = _transition(
            id, Status.TRANSCRIBING, Status.SYNTHESIZING, holder, False, values
        )
        parameters.update(segment_rows(transcript), speakers=list(speakers))
        moved = self.execute(_transcribed(statement, earlier=earlier), parameters).scalar()
        return moved is not None

    def complete_with_notes(
        self,
        id: uuid.UUID,
        *,
        token: uuid.UUID,
        notes: Mapping[str, Any],
        spoken: Mapping[str, tuple[float, int]],
        completed_at: datetime,
        event_type: str,
        payload: Mapping[str, Any],
    ) -> bool:
        """A synthesis's end: synthesizing -> completed at `completed_at` under `token`'s
        lease, with the `notes` (`SynthesisRepository.add_for_conversation`'s values), who
        spoke how much (`ParticipantRepository.record_speaking`'s `spoken`: by stored name),
        the graph outbox event, and the action items' follow-up marked due.

        The lease is the compare-and-set: False means another worker took the stage over,
        and nothing is written. On PostgreSQL one statement, as `store_transcript`;
        elsewhere in the caller's transaction.
        """
        values: dict[str, Any] = {"completed_at": completed_at, "follow_up_due": True}
        if self.scope.dialect != "postgresql":
            if not self.transition(
                id, expected=Status.SYNTHESIZING, target=Status.COMPLETED, holder=token, **values
            ):
                return False
            SynthesisRepository(self.scope).add_for_conversation(id, **notes)
            ParticipantRepository(self.scope).record_speaking(id, spoken)
            GraphOutboxRepository(self.scope).add_event(id, event_type, dict(payload))
            return True
        statement, parameters = _transition(
            id, Status.SYNTHESIZING, Status.COMPLETED, token, False, values
        )
        notes_values = notes_parameters(notes)
        names = tuple(sorted(name.removeprefix("notes_") for name in notes_values))
        parameters.update(notes_values)
        parameters.update(
            speaking_parameters(spoken),
            event_id=uuid.uuid4(),
            event_created_at=utc_now(),
            event_type=event_type,
            event_payload=dict(payload),
        )
        stored = self.execute(_completed_with_notes(statement, names), parameters).scalar()
        return stored is not None

    def due_for_follow_up(self, *, limit: int) -> list[uuid.UUID]:
        """Completed meetings whose action items await their follow-up, the earliest held
        first (an item is carried over from the meetings before it)."""
        statement = (
            select(Conversation.id)
            .where(_awaiting_follow_up())
            .order_by(func.coalesce(Conversation.started_at, Conversation.created_at))
            .limit(limit)
        )
        return list(self.session.scalars(statement))

    def any_due_for_follow_up(self) -> bool:
        """Whether a completed meeting awaits its follow-up: an EXISTS, which stops at the
        first such row where `due_for_follow_up` would sort them all."""
        return bool(self.execute(select(exists().where(_awaiting_follow_up()))).scalar())

    def followed_up(self, ids: Sequence[uuid.UUID]) -> None:
        self.update_where(Conversation.id.in_(ids), follow_up_due=False)

    def claim_for_transcription(
        self, id: uuid.UUID, *, token: uuid.UUID, lease_until: datetime, now: datetime
    ) -> Claim | None:
        """pending -> transcribing under a new lease, or a lapsed transcription taken over.

        One UPDATE (the hot path of every meeting), returning what the stage needs; None
        when someone else holds the stage (a live lease), or it is in another state.
        """
        return self._claimed(
            id, _TRANSCRIPTION_CLAIM, token=token, lease_until=lease_until, now=now
        )

    def claim_for_synthesis(
        self, id: uuid.UUID, *, token: uuid.UUID, lease_until: datetime, now: datetime
    ) -> Claim | None:
        """Take a transcribed conversation's synthesis whose lease is free or lapsed, with its
        transcript, unless its notes are stored already.

        One UPDATE, so of two workers racing for it exactly one wins. None when the
        conversation is not there for the taking.
        """
        return self._claimed(
            id,
            _SYNTHESIS_CLAIM,
            token=token,
            lease_until=lease_until,
            now=now,
            with_transcript=True,
        )

    def _claimed(
        self,
        id: uuid.UUID,
        statement: Update,
        *,
        token: uuid.UUID,
        lease_until: datetime,
        now: datetime,
        with_transcript: bool = False,
    ) -> Claim | None:
        # On PostgreSQL what the stage reads comes back with the claim, in its round trip:
        # the participants' names (every stage reads them) and the transcript (synthesis
        # reads it). SQLite names RETURNING's columns without their table, so a correlated
        # subquery there would compare the participants' own ids; in-process, more
        # statements cost no round trips anyway.
        together = self.scope.dialect == "postgresql"
        parameters = {"claim_id": id, "token": token, "lease_until": lease_until, "now": now}
        returning = _claim_returning(statement, together=together, transcript=with_transcript)
        row = self.execute(returning, parameters).one_or_none()
        if row is None:
            return None
        deliveries, attempts, source_uri, title, started_at, language, *read = tuple(row)
        if not with_transcript:
            if together:
                names, has_chunks = read[0] or [], bool(read[1])
            else:
                named = _participant_names().where(Conversation.id == id)
                names = list(self.session.scalars(named))
                planned = _chunks_planned().where(Conversation.id == id).exists()
                has_chunks = bool(self.execute(select(planned)).scalar())
            return Claim(
                deliveries,
                attempts,
                source_uri,
                title,
                names,
                [],
                language=language,
                speaker_timeline=read[-1],
                has_chunks=has_chunks,
            )
        if together:
            people = [tuple(person) for person in read[0] or []]
            transcript = [
                SpokenText(speaker, float(start), float(end), text)
                for speaker, start, end, text in read[1] or []
            ]
        else:
            people = list(self.session.execute(_participants().where(Conversation.id == id)))
            transcript = [
                SpokenText(speaker, start, end, text)
                for speaker, start, end, text in self.session.execute(
                    _transcript().where(Conversation.id == id)
                )
            ]
        return Claim(
            deliveries,
            attempts,
            source_uri,
            title,
            participants=[name for name, _, _ in people],
            transcript=transcript,
            emails={name: email for name, email, _ in people if email},
            organizers=frozenset(name for name, _, organizer in people if organizer),
            started_at=started_at,
            language=language,
        )

    def renew_lease(
        self, id: uuid.UUID, *, token: uuid.UUID, lease_until: datetime, progress: int | None
    ) -> bool:
        """Extend a held lease (a heartbeat); False when it was lost to another worker."""
        changed = self.update_where(
            Conversation.id == id,
            Conversation.lease_token == token,
            lease_expires_at=lease_until,
            progress=progress,
        )
        return changed == 1

    def release_lease(self, id: uuid.UUID, *, token: uuid.UUID, requeue_at: datetime) -> bool:
        """Give a held stage back to the queue; `requeue_at` is when to send it again if the
        retry that should take it never arrives."""
        return self._end_lease(_RELEASE, id, token, requeue_at)

    def hand_back(self, id: uuid.UUID, *, token: uuid.UUID, requeue_at: datetime) -> bool:
        """Give a held stage back undone, for its retry to take (a transient error).

        The take is not counted as a delivery: `deliveries` counts the takes that never
        came back, the lost workers, and a stage retried for an outside system's outage
        must not be failed as one that keeps killing its worker.
        """
        return self._end_lease(_HAND_BACK, id, token, requeue_at)

    def _end_lease(
        self, statement: Update, id: uuid.UUID, token: uuid.UUID, requeue_at: datetime
    ) -> bool:
        parameters = {"lease_id": id, "token": token, "requeue_at": requeue_at, "now": utc_now()}
        changed = self.execute(statement, parameters).rowcount
        return changed == 1

    def claim_stuck(
        self, *, now: datetime, requeue_at: datetime, limit: int
    ) -> list[StuckConversation]:
        """Unfinished conversations whose lease lapsed, handed back to the queue.

        Their leases end (a worker that still runs loses its final compare-and-set) and are
        set to `requeue_at`, so the next sweep leaves them alone until then.
        """
        statement = (
            select(
                Conversation.id,
                Conversation.status,
                Conversation.lease_token.is_not(None),
                _notes_stored(),
            )
            .where(Conversation.status.in_(UNFINISHED), Conversation.lease_expires_at < now)
            .order_by(Conversation.lease_expires_at)
            .limit(limit)
            # SKIP LOCKED: two sweeps at once split the rows instead of queueing one behind
            # the other, and neither waits on a stage's transaction.
            .with_for_update(skip_locked=True)
        )
        stuck = [
            StuckConversation(id, status, leased, notes_stored)
            for id, status, leased, notes_stored in self.session.execute(statement)
        ]
        if stuck:
            self.update_where(
                Conversation.id.in_([conversation.id for conversation in stuck]),
                lease_token=None,
                lease_expires_at=requeue_at,
                updated_at=now,
            )
        return stuck

    def ids_starting_with(self, hex_digits: str, *, limit: int) -> list[uuid.UUID]:
        """Up to `limit` ids, in order, whose hex digits start with `hex_digits` (lower case,
        no dashes).

        A range on the primary key, not a text match: it uses the key's index, and uuids
        sort by their hex digits both in PostgreSQL and as SQLite's CHAR(32).
        """
        first = uuid.UUID(hex_digits.ljust(32, "0"))
        last = uuid.UUID(hex_digits.ljust(32, "f"))
        statement = (
            select(Conversation.id)
            .where(Conversation.id.between(first, last))
            .order_by(Conversation.id)
            .limit(limit)
        )
        return list(self.session.scalars(statement))

    def get_by_idempotency_key(self, key: str) -> Conversation | None:
        statement = select(Conversation).where(Conversation.idempotency_key == key)
        return self.session.scalars(statement).one_or_none()

    def list_by_status(
        self, status: ConversationStatus, *, limit: int = 100, offset: int = 0
    ) -> Sequence[Conversation]:
        statement = (
            select(Conversation)
            .where(Conversation.status == status)
            .order_by(Conversation.created_at.desc(), Conversation.id)
            .limit(limit)
            .offset(offset)
        )
        return self.session.scalars(statement).all()

    def get_by_platform_meeting_id(
        self, platform: str, platform_meeting_id: str
    ) -> Conversation | None:
        statement = select(Conversation).where(
            Conversation.platform == platform,
            Conversation.platform_meeting_id == platform_meeting_id,
        )
        return self.session.scalars(statement).one_or_none()

    def list_recent(self, *, limit: int = 20) -> Sequence[Conversation]:
        return self.list(limit=limit)

    def get_with_notes(self, id: uuid.UUID) -> Conversation | None:
        """The conversation with its notes (what `status` shows of them)."""
        return self.get_by_id(id, options=(selectinload(Conversation.synthesis),))

    def get_with_transcript(self, id: uuid.UUID) -> Conversation | None:
        """The conversation with everything `show` prints: people, segments, notes."""
        return self.get_by_id(
            id,
            options=(
                selectinload(Conversation.participants),
                selectinload(Conversation.segments),
                selectinload(Conversation.synthesis),
            ),
        )

    def list_completed_with_notes(
        self, ids: Sequence[uuid.UUID] | None = None, *, after: uuid.UUID | None = None, limit: int
    ) -> list[CompletedConversation]:
        """Completed conversations with their people and notes, in id order: those of `ids`,
        or (for reading them all, a page at a time) the first `limit` after id `after`.

        Plain rows, not ORM objects: a rebuild reads every meeting there is, and building
        and tracking mapped instances for them cost more than Neo4j took to write them.
        """
        statement = (
            select(
                Conversation.id,
                Conversation.title,
                Conversation.completed_at,
                Conversation.started_at,
                Conversation.duration_seconds,
                Conversation.platform,
                Conversation.language,
                Synthesis.summary,
                Synthesis.key_topics,
                Synthesis.key_decisions,
                Synthesis.open_questions,
                Synthesis.action_items,
            )
            .outerjoin(Synthesis)
            .where(Conversation.status == ConversationStatus.COMPLETED)
            .order_by(Conversation.id)
            .limit(limit)
        )
        if ids is not None:
            statement = statement.where(Conversation.id.in_(ids))
        if after is not None:
            statement = statement.where(Conversation.id > after)
        conversations = self.session.execute(statement).all()
        people: dict[uuid.UUID, list[Attendee]] = {row.id: [] for row in conversations}
        if people:
            for row in self.session.execute(
                select(
                    Participant.conversation_id,
                    Participant.name,
                    Participant.email,
                    Participant.is_organizer,
                    Participant.spoken_seconds,
                    Participant.word_count,
                )
                .where(Participant.conversation_id.in_(people))
                .order_by(Participant.conversation_id, Participant.name)
            ):
                people[row.conversation_id].append(
                    Attendee(
                        row.name, row.email, row.is_organizer, row.spoken_seconds, row.word_count
                    )
                )
        starts = self._cited_starts(conversations)
        return [
            CompletedConversation(
                id=row.id,
                title=row.title,
                completed_at=row.completed_at,
                started_at=row.started_at,
                duration_seconds=row.duration_seconds,
                platform=row.platform,
                language=row.language,
                participants=people[row.id],
                summary=row.summary,
                key_topics=row.key_topics or [],
                key_decisions=row.key_decisions or [],
                open_questions=row.open_questions or [],
                action_items=row.action_items or [],
                cited_starts=starts.get(row.id, {}),
            )
            for row in conversations
        ]

    def _cited_starts(self, conversations: Sequence[Row[Any]]) -> dict[uuid.UUID, dict[int, float]]:
        """When the segment each item cites first starts, by conversation and position."""
        cited = {
            (row.id, item["evidence"]["segment_ids"][0])
            for row in conversations
            for items in (row.key_decisions, row.open_questions, row.action_items)
            for item in items or ()
            # Notes from before evidence hold strings, or items whose evidence is None.
            if isinstance(item, dict) and item.get("evidence") and item["evidence"]["segment_ids"]
        }
        starts: dict[uuid.UUID, dict[int, float]] = {}
        if cited:
            statement = select(
                TranscriptSegment.conversation_id,
                TranscriptSegment.position,
                TranscriptSegment.start,
            ).where(
                tuple_(TranscriptSegment.conversation_id, TranscriptSegment.position).in_(cited)
            )
            for row in self.session.execute(statement):
                starts.setdefault(row.conversation_id, {})[row.position] = row.start
        return starts


class json_array_agg(GenericFunction[list[Any]]):
    """The values of a column as one JSON array (None over no rows on PostgreSQL)."""

    type = JSON()
    inherit_cache = True


@compiles(json_array_agg, "postgresql")
def _json_agg(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


@compiles(json_array_agg, "sqlite")
def _json_group_array(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


# The hot path's statements, built once: building an UPDATE costs more CPU than running it
# on a warm connection (SQLAlchemy caches the compiled SQL, but not the statement object).


_CONVERSATIONS = cast(Table, Conversation.__table__)


def _notes_stored() -> ColumnElement[bool]:
    return exists().where(Synthesis.conversation_id == Conversation.id)


def _participant_names() -> Select[str]:
    return (
        select(Participant.name)
        .where(Participant.conversation_id == Conversation.id)
        .order_by(Participant.name)
    )


def _participants() -> Select[str, str | None, bool]:
    return (
        select(Participant.name, Participant.email, Participant.is_organizer)
        .where(Participant.conversation_id == Conversation.id)
        .order_by(Participant.name)
    )


def _awaiting_follow_up() -> ColumnElement[bool]:
    return and_(Conversation.follow_up_due, Conversation.status == Status.COMPLETED)


def _chunks_planned() -> Select[Any]:
    return select(TranscriptChunk.id).where(TranscriptChunk.conversation_id == Conversation.id)


def _transcript() -> Select[str | None, float, float, str]:
    return (
        select(
            TranscriptSegment.speaker,
            TranscriptSegment.start,
            TranscriptSegment.end,
            TranscriptSegment.text,
        )
        .where(TranscriptSegment.conversation_id == Conversation.id)
        .order_by(TranscriptSegment.position)
    )


def _transition(
    id: uuid.UUID,
    expected: ConversationStatus,
    target: ConversationStatus,
    holder: uuid.UUID | None,
    notes_stored: bool,
    values: dict[str, Any],
) -> tuple[Update, dict[str, Any]]:
    """The compare-and-set UPDATE of a transition and its parameters."""
    if target not in TRANSITIONS[expected]:
        raise IllegalTransitionError(expected, target)
    now = utc_now()
    if target in _ENTERED_AT:
        values.setdefault(_ENTERED_AT[target], now)
    values.setdefault("lease_expires_at", None)
    values.update(lease_token=None, deliveries=0, progress=None, updated_at=now)
    statement = _transition_statement(
        expected, target, holder is not None, notes_stored, tuple(sorted(values))
    )
    parameters = {f"new_{name}": value for name, value in values.items()}
    parameters.update(transition_id=id, holder=holder)
    return statement, parameters


def _event_insert_selected(conversations: CTE) -> Insert:
    """The outbox event's INSERT for the row `conversations` returns: none when it has none."""
    outbox = EVENT_INSERT.table
    # Every value given here: the columns' Python-side defaults are not rendered into a
    # prebuilt INSERT ... SELECT (the rest have server defaults).
    return EVENT_INSERT.from_select(
        ["id", "created_at", "conversation_id", "event_type", "payload"],
        select(
            bindparam("event_id", type_=outbox.c.id.type),
            bindparam("event_created_at", type_=outbox.c.created_at.type),
            conversations.c.id,
            bindparam("event_type", type_=outbox.c.event_type.type),
            bindparam("event_payload", type_=outbox.c.payload.type),
        ),
        include_defaults=False,
    )


@cache
def _completion_with_event(transition: Update) -> Insert:
    """The outbox event's INSERT of the row `transition` returns: none when it changes none.

    Returning the event's id, as an INSERT's row count is not kept for the caller."""
    completed = transition.returning(_CONVERSATIONS.c.id).cte("completed")
    return _event_insert_selected(completed).returning(EVENT_INSERT.table.c.id)


@cache
def _transcribed(transition: Update, *, earlier: bool) -> Select[Any]:
    """The transcript's writes, selecting the row `transition` returns: none when it
    changes none. Returning the conversation's id, as the writes' row counts are not kept."""
    moved = transition.returning(_CONVERSATIONS.c.id).cte("moved")
    writes: list[Any] = [
        segments_insert_selected(moved, replacing=earlier),
        names_insert_selected(moved),
    ]
    if earlier:
        writes += [segments_delete_beyond(moved), notes_delete_selected(moved)]
    return select(moved.c.id).add_cte(
        *(write.cte(f"transcript_write_{index}") for index, write in enumerate(writes))
    )


@cache
def _completed_with_notes(transition: Update, names: tuple[str, ...]) -> Any:
    """The notes' INSERT, the speaking time's UPDATE and the outbox event's INSERT, selecting
    the row `transition` returns; returning the notes' id."""
    completed = transition.returning(_CONVERSATIONS.c.id).cte("completed")
    speaking = speaking_update_selected(completed).cte("speaking")
    event = _event_insert_selected(completed).cte("completion_event")
    return notes_insert_selected(completed, names).add_cte(speaking, event)


@cache
def _transition_statement(
    expected: ConversationStatus,
    target: ConversationStatus,
    held: bool,
    notes_stored: bool,
    names: tuple[str, ...],
) -> Update:
    where = [Conversation.id == bindparam("transition_id"), Conversation.status == expected]
    if held:
        where.append(Conversation.lease_token == bindparam("holder"))
    if notes_stored:
        where.append(_notes_stored())
    return (
        update(_CONVERSATIONS)
        .where(*where)
        .values(status=target, **{name: bindparam(f"new_{name}") for name in names})
    )


def _build_transcription_claim() -> Update:
    pending = Conversation.status == Status.PENDING
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(_CONVERSATIONS)
        .where(
            Conversation.id == bindparam("claim_id"),
            or_(
                pending,
                and_(Conversation.status == Status.TRANSCRIBING, lease_free(Conversation, now)),
            ),
        )
        # SET expressions read the row as it was: `pending` is its state before.
        .values(
            status=Status.TRANSCRIBING,
            lease_token=bindparam("token"),
            lease_expires_at=bindparam("lease_until"),
            deliveries=case((pending, 1), else_=Conversation.deliveries + 1),
            attempts=case((pending, Conversation.attempts + 1), else_=Conversation.attempts),
            transcribing_at=case((pending, now), else_=Conversation.transcribing_at),
            error_message=None,
            progress=0,
            updated_at=now,
        )
    )


def _build_synthesis_claim() -> Update:
    now = bindparam("now", type_=UTCDateTime())
    return (
        update(_CONVERSATIONS)
        .where(
            Conversation.id == bindparam("claim_id"),
            Conversation.status == Status.SYNTHESIZING,
            lease_free(Conversation, now),
            ~_notes_stored(),
        )
        .values(
            lease_token=bindparam("token"),
            lease_expires_at=bindparam("lease_until"),
            deliveries=Conversation.deliveries + 1,
            progress=0,
            updated_at=now,
        )
    )


def _build_end_of_lease(*, delivered: bool) -> Update:
    """The held lease ended: given back to the queue, due again at `requeue_at`; not
    `delivered` takes the take back off the count."""
    values: dict[str, Any] = {
        "lease_token": None,
        "lease_expires_at": bindparam("requeue_at"),
        "progress": None,
        "updated_at": bindparam("now"),
    }
    if not delivered:
        values["deliveries"] = Conversation.deliveries - 1
    return (
        update(_CONVERSATIONS)
        .where(
            Conversation.id == bindparam("lease_id"), Conversation.lease_token == bindparam("token")
        )
        .values(**values)
    )


_RELEASE = _build_end_of_lease(delivered=True)
_HAND_BACK = _build_end_of_lease(delivered=False)
_TRANSCRIPTION_CLAIM = _build_transcription_claim()
_SYNTHESIS_CLAIM = _build_synthesis_claim()


@cache
def _claim_returning(claim: Update, *, together: bool, transcript: bool) -> Update:
    """`claim` returning what its stage reads: with `together`, the participants' names
    and (`transcript`) the segments too, each as one JSON array fed from an ordered
    subquery, which keeps its order."""
    columns: list[Any] = [
        Conversation.deliveries,
        Conversation.attempts,
        Conversation.source_uri,
        Conversation.title,
        func.coalesce(Conversation.started_at, Conversation.created_at),
        Conversation.language if transcript else Conversation.requested_language,
    ]
    if not transcript:
        if together:
            names = _participant_names().correlate(Conversation).subquery()
            columns.append(select(json_array_agg(names.c.name)).scalar_subquery())
            columns.append(_chunks_planned().correlate(Conversation).exists())
        # Last: the transcription names speakers from it; a synthesis has no use for it.
        columns.append(Conversation.speaker_timeline)
    elif together:
        people = _participants().correlate(Conversation).subquery()
        person = func.json_build_array(people.c.name, people.c.email, people.c.is_organizer)
        columns.append(select(json_array_agg(person)).scalar_subquery())
        if transcript:
            spoken = _transcript().correlate(Conversation).subquery()
            segments = func.json_build_array(
                spoken.c.speaker, spoken.c.start, spoken.c.end, spoken.c.text
            )
            columns.append(select(json_array_agg(segments)).scalar_subquery())
    return claim.returning(*columns)
