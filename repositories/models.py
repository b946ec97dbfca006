"""The tables minutes keeps, as SQLAlchemy 2.0 typed models."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> datetime:
    return datetime.now(UTC)


# Stable constraint names, so migrations can name what they drop on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp on every backend.

    PostgreSQL keeps the zone; SQLite keeps none and hands back naive values, which are
    UTC because that is all minutes writes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# JSONB on PostgreSQL so analysts can index and query inside the notes; JSON elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

uuid_pk = Annotated[uuid.UUID, mapped_column(Uuid, primary_key=True, default=uuid.uuid4)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime())]
datetime_now = Annotated[
    datetime,
    mapped_column(UTCDateTime(), default=utc_now, server_default=func.now()),
]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONDocument,
        list[Any]: JSONDocument,
    }


class Model(Base):
    """Every table: a UUID key and the time the row was written."""

    __abstract__ = True

    id: Mapped[uuid_pk]
    created_at: Mapped[datetime_now]


class ConversationStatus(enum.StrEnum):
    PENDING = "pending"
    TRANSCRIBING = "transcribing"
    SYNTHESIZING = "synthesizing"
    COMPLETED = "completed"
    FAILED = "failed"


class ActionItemState(enum.StrEnum):
    OPEN = "open"
    DONE = "done"


class ChunkState(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"


class EmailStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


def _enum_column(enum_class: type[enum.StrEnum], name: str) -> Enum:
    # VARCHAR plus a CHECK rather than a native ENUM type: adding a state later is then a
    # plain constraint swap instead of an ALTER TYPE that cannot run inside a transaction.
    return Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [member.value for member in members],
    )


class Conversation(Model):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("platform", "platform_meeting_id"),
        Index("ix_conversations_status_created_at", "status", "created_at"),
        # Partial: only conversations some worker or queue still owes progress have a lease.
        Index(
            "ix_conversations_lease_expires_at",
            "lease_expires_at",
            postgresql_where=sql_text("lease_expires_at IS NOT NULL"),
            sqlite_where=sql_text("lease_expires_at IS NOT NULL"),
        ),
        Index("ix_conversations_created_at", "created_at"),
        # Partial: the few completed meetings whose action items await their follow-up.
        Index(
            "ix_conversations_follow_up_due",
            "follow_up_due",
            postgresql_where=sql_text("follow_up_due"),
            sqlite_where=sql_text("follow_up_due"),
        ),
    )

    title: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ConversationStatus] = mapped_column(
        _enum_column(ConversationStatus, "conversation_status"),
        default=ConversationStatus.PENDING,
    )
    source_uri: Mapped[str] = mapped_column(Text)
    platform: Mapped[str | None] = mapped_column(String(64))
    platform_meeting_id: Mapped[str | None] = mapped_column(String(255))
    scheduled_at: Mapped[timestamp | None]
    started_at: Mapped[timestamp | None]
    ended_at: Mapped[timestamp | None]
    # What the upload hook was given to recognise a repeated upload by.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    # Who spoke when, as the upload gave it: [{"name", "email", "start", "end"}]; it names
    # the speakers of a recording when the transcription stage runs.
    speaker_timeline: Mapped[list[Any] | None]
    language: Mapped[str | None] = mapped_column(String(16))
    # The language the upload said the speech is in (None: detect it); the transcription
    # uses it instead of detecting.
    requested_language: Mapped[str | None] = mapped_column(String(16))
    duration_seconds: Mapped[float | None]
    transcription_provider: Mapped[str | None] = mapped_column(String(64))
    # The provider's model (Whisper's size, a cloud model); none for a platform transcript.
    transcription_model: Mapped[str | None] = mapped_column(String(255))
    # The providers of the fallback chain that gave way before the one that wrote the
    # transcript, in order, and why: [{"provider", "reason"}].
    transcription_passed_over: Mapped[list[Any] | None]
    word_count: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))

    # The lease: who works on the current stage, and until when that claim holds unless
    # renewed. A conversation whose lease lapsed is stuck (its worker or its queued message
    # was lost) and is taken over or sent again. No lease: nothing is owed (finished, or never
    # queued).
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lease_expires_at: Mapped[timestamp | None]
    # How many times a worker has taken the current stage; a stage that keeps killing its
    # worker is failed after a limit instead of being handed on forever.
    deliveries: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    progress: Mapped[int | None]  # percent of the current stage

    transcribing_at: Mapped[timestamp | None]
    synthesizing_at: Mapped[timestamp | None]
    completed_at: Mapped[timestamp | None]
    failed_at: Mapped[timestamp | None]
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=utc_now,
        onupdate=utc_now,
        server_default=func.now(),
    )
    # Its notes were written (completed, new notes, a renamed owner) and its action items
    # not yet followed up across meetings: the follow-up runs apart from the completion, in
    # batches, so completions never wait on one another.
    follow_up_due: Mapped[bool] = mapped_column(server_default=false())

    participants: Mapped[list[Participant]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
        order_by="Participant.name",
    )
    segments: Mapped[list[TranscriptSegment]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
        order_by="TranscriptSegment.position",
    )
    synthesis: Mapped[Synthesis | None] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )
    outbox_events: Mapped[list[GraphOutboxEvent]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )
    action_items: Mapped[list[ActionItem]] = relationship(
        back_populates="conversation",
        foreign_keys="ActionItem.conversation_id",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
    )
    chunks: Mapped[list[TranscriptChunk]] = relationship(
        back_populates="conversation",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="raise",
        order_by="TranscriptChunk.position",
    )


class Participant(Model):
    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("conversation_id", "name"),
        Index("ix_participants_email", "email"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    is_organizer: Mapped[bool] = mapped_column(default=False, server_default=false())
    spoken_seconds: Mapped[float | None]
    word_count: Mapped[int | None]

    conversation: Mapped[Conversation] = relationship(back_populates="participants", lazy="raise")


# Full-text search (PostgreSQL; the embedded SQLite has FTS5 tables instead, see the
# search migration): each text parsed with 'simple' (every word as said, any language) and
# 'english' (stems). Written as PostgreSQL renders them back, so `alembic check` sees no
# drift; deferred, so loading a row never fetches its vector.
SEGMENT_SEARCH_VECTOR = (
    "to_tsvector('simple'::regconfig, text) || to_tsvector('english'::regconfig, text)"
)
_NOTES_ITEMS = (
    "jsonb_path_query_array(((key_decisions || action_items) || open_questions), "
    "'$[*].\"text\"'::jsonpath)"
)
NOTES_SEARCH_VECTOR = (
    "((to_tsvector('simple'::regconfig, summary) || to_tsvector('english'::regconfig, summary))"
    f" || jsonb_to_tsvector('simple'::regconfig, {_NOTES_ITEMS}, '[\"string\"]'::jsonb))"
    f" || jsonb_to_tsvector('english'::regconfig, {_NOTES_ITEMS}, '[\"string\"]'::jsonb)"
)


def _search_vector(expression: str) -> Any:
    return mapped_column(TSVECTOR, Computed(expression, persisted=True), deferred=True)


def _search_index(table: str) -> Index:
    return Index(f"ix_{table}_search_vector", "search_vector", postgresql_using="gin")


# The ORM would fetch the generated vector back after every INSERT (RETURNING), which
# SQLite, having no such column, refuses; nothing reads it from a row anyway.
_NO_GENERATED_VALUES_BACK: dict[str, Any] = {"eager_defaults": False}


class TranscriptSegment(Model):
    __tablename__ = "transcript_segments"
    __table_args__ = (
        # The unique key doubles as the index that reads a transcript in order.
        UniqueConstraint("conversation_id", "position"),
        CheckConstraint('"end" >= start', name="end_after_start"),
        _search_index("transcript_segments"),
    )
    __mapper_args__ = _NO_GENERATED_VALUES_BACK

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    start: Mapped[float]
    end: Mapped[float]
    speaker: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[Any]] = mapped_column(default=list)
    search_vector: Mapped[str | None] = _search_vector(SEGMENT_SEARCH_VECTOR)

    conversation: Mapped[Conversation] = relationship(back_populates="segments", lazy="raise")


class Synthesis(Model):
    __tablename__ = "syntheses"
    __table_args__ = (
        # Partial: only undelivered notes are ever looked up by status.
        Index(
            "ix_syntheses_pending_email",
            "created_at",
            postgresql_where=sql_text("email_status = 'pending'"),
            sqlite_where=sql_text("email_status = 'pending'"),
        ),
        _search_index("syntheses"),
    )
    __mapper_args__ = _NO_GENERATED_VALUES_BACK

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    summary: Mapped[str] = mapped_column(Text)
    key_decisions: Mapped[list[Any]] = mapped_column(default=list)
    action_items: Mapped[list[Any]] = mapped_column(default=list)
    open_questions: Mapped[list[Any]] = mapped_column(default=list)
    key_topics: Mapped[list[Any]] = mapped_column(default=list)
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(255))
    prompt_tokens: Mapped[int | None]
    completion_tokens: Mapped[int | None]
    seconds: Mapped[float | None]  # how long the provider took to write the notes
    # Items the provider gave whose evidence did not check out against the transcript.
    dropped_items: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    email_status: Mapped[EmailStatus] = mapped_column(
        _enum_column(EmailStatus, "email_status"), default=EmailStatus.PENDING
    )
    email_sent_at: Mapped[timestamp | None]
    # Why the last delivery failed or was skipped (a refused address is noted on a sent one).
    email_error: Mapped[str | None] = mapped_column(Text)
    # Who the notes go to: fixed when a delivery is asked with addresses, else when sent.
    email_recipients: Mapped[list[Any] | None]
    # Kept from the first attempt of a delivery on, so one sent again after a crash (between
    # sending and recording it) is the same message to mail programs.
    email_message_id: Mapped[str | None] = mapped_column(String(255))
    # The claim of the worker sending it, as a conversation's lease: one taken over once it
    # lapses; a lapse with no holder means a queued delivery is due to be looked at again.
    email_claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    email_claim_expires_at: Mapped[timestamp | None]
    email_attempts: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    search_vector: Mapped[str | None] = _search_vector(NOTES_SEARCH_VECTOR)

    conversation: Mapped[Conversation] = relationship(back_populates="synthesis", lazy="raise")


class GraphOutboxEvent(Model):
    __tablename__ = "graph_outbox"
    __table_args__ = (
        # Partial: the sync only ever scans the events it has not pushed yet.
        Index(
            "ix_graph_outbox_unprocessed",
            "created_at",
            postgresql_where=sql_text("processed_at IS NULL"),
            sqlite_where=sql_text("processed_at IS NULL"),
        ),
        Index("ix_graph_outbox_conversation_id", "conversation_id"),
    )

    # None for a `conversation.deleted` event: the conversation is gone (and its other
    # events with it); the payload names it.
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[timestamp | None]

    conversation: Mapped[Conversation | None] = relationship(
        back_populates="outbox_events", lazy="raise"
    )


class ActionItem(Model):
    """An action item followed across meetings: the notes' item, with the state later
    meetings gave it.

    Its id is derived from the meeting and the item's key (owner and task), so new notes for
    the same meeting (re-synthesis) keep the ids, states and links of the items they repeat.
    """

    __tablename__ = "action_items"
    __table_args__ = (
        UniqueConstraint("conversation_id", "key"),
        Index("ix_action_items_owner_key_state", "owner_key", "state"),
        Index("ix_action_items_owner_name_key_state", "owner_name_key", "state"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    key: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    owner_name: Mapped[str | None] = mapped_column(String(255))
    owner_key: Mapped[str | None] = mapped_column(String(320))  # the graph's Person.key
    owner_name_key: Mapped[str | None] = mapped_column(String(255))
    due: Mapped[str | None] = mapped_column(String(255))
    due_date: Mapped[date | None] = mapped_column(Date)
    state: Mapped[ActionItemState] = mapped_column(
        _enum_column(ActionItemState, "action_item_state"), default=ActionItemState.OPEN
    )
    # The meeting that reported it done, and what was said there.
    closed_in_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    closed_at: Mapped[timestamp | None]
    closing_quote: Mapped[str | None] = mapped_column(Text)
    # The earlier meeting's item this one repeats.
    carried_over_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("action_items.id", ondelete="SET NULL"), unique=True
    )

    conversation: Mapped[Conversation] = relationship(
        back_populates="action_items", foreign_keys=[conversation_id], lazy="raise"
    )


class TranscriptChunk(Model):
    """A span of a long recording, transcribed by whichever worker takes it.

    Leased like a conversation's stage (see pipeline/leases.py): a worker holds it while it
    transcribes, a lapsed lease means that worker died. Done, it keeps its result until the
    whole recording's transcript is stitched from every chunk's.
    """

    __tablename__ = "transcript_chunks"
    __table_args__ = (
        # The unique key doubles as the index that reads a recording's chunks in order.
        UniqueConstraint("conversation_id", "position"),
        CheckConstraint('"end" > start', name="end_after_start"),
        # Partial: the recovery sweep only ever looks at chunks still owed.
        Index(
            "ix_transcript_chunks_pending_lease",
            "lease_expires_at",
            postgresql_where=sql_text("state = 'pending'"),
            sqlite_where=sql_text("state = 'pending'"),
        ),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int]
    start: Mapped[float]  # seconds into the recording
    end: Mapped[float]
    # Where the VAD over the whole recording found speech in the chunk ([start, end] pairs,
    # seconds into the recording): the chunk decodes the whole recording's windows. None
    # for chunks planned before it was kept.
    speech: Mapped[list[Any] | None]
    # The language told once for the whole recording (None: each chunk's provider tells).
    language: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[ChunkState] = mapped_column(
        _enum_column(ChunkState, "chunk_state"), default=ChunkState.PENDING
    )
    # What the transcriber returned, times in the whole recording: segments (with words),
    # language, duration, provider, model, passed_over.
    result: Mapped[dict[str, Any] | None]
    lease_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lease_expires_at: Mapped[timestamp | None]
    deliveries: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    # Which worker (host:pid) transcribed it, for operators watching the spread.
    worker: Mapped[str | None] = mapped_column(String(255))
    done_at: Mapped[timestamp | None]

    conversation: Mapped[Conversation] = relationship(back_populates="chunks", lazy="raise")


class ProviderCircuit(Base):
    """A provider that failed recently, skipped by every worker until `open_until`.

    One row per provider name, replaced on each failure and deleted when it answers again.
    """

    __tablename__ = "provider_circuits"

    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    open_until: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime_now]
