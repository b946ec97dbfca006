"""Upload hooks: how a meeting platform hands minutes a recording or a transcript.

`enqueue_upload` stores one pending conversation and queues it. The row is the source of
truth and carries a lease (the time by which a worker must have picked it up); the queued
message is only a nudge, so a lost message or an unreachable broker delays the meeting,
and the recovery sweep sends it again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from sqlalchemy.exc import IntegrityError

from integrations.diarization.base import NamedTurn
from integrations.transcription.languages import checked_language
from pipeline.intake import InvalidParticipantError, ParticipantInput, create_conversation
from pipeline.runtime import Runtime
from pipeline.tasks import current_runtime, start_pipeline
from repositories.database import UnitOfWork
from repositories.models import Conversation, ConversationStatus, utc_now

log = logging.getLogger(__name__)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and a path with one cannot be opened: refused as
    # invalid input here rather than failing deep in the database driver or the OS.
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


_Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_no_nul)
]


class UploadParticipant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[_Text, StringConstraints(max_length=255)] | None = None
    email: Annotated[_Text, StringConstraints(max_length=320)] | None = None
    organizer: bool = False

    @model_validator(mode="after")
    def _named(self) -> Self:
        # The same rules as `--participant`: a name, an email, or both.
        self.as_input()
        return self

    def as_input(self) -> ParticipantInput:
        value = f"{self.name or ''} <{self.email}>" if self.email else (self.name or "")
        try:
            person = ParticipantInput.parse(value)
        except InvalidParticipantError:
            # Not the parser's message: that quotes the value, and error replies never do.
            raise ValueError("a participant needs a name or a valid email address") from None
        return ParticipantInput(name=person.name, email=person.email, organizer=self.organizer)


class SpeakerTurnInput(BaseModel):
    """One turn of the platform's active speaker: who spoke from `start` to `end` (seconds
    into the recording)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[_Text, StringConstraints(max_length=255)]
    email: Annotated[_Text, StringConstraints(max_length=320)] | None = None
    start: float = Field(ge=0, allow_inf_nan=False)
    end: float = Field(ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _checked(self) -> Self:
        if self.end <= self.start:
            raise ValueError("a turn must end after it starts")
        # The same rules as a participant's: a name, and an address that is one.
        UploadParticipant(name=self.name, email=self.email)
        return self

    def as_turn(self) -> NamedTurn:
        person = UploadParticipant(name=self.name, email=self.email).as_input()
        return NamedTurn(self.start, self.end, person.name, person.email)


class UploadEvent(BaseModel):
    """What an upload hook says about a recording; only `source_uri` is required."""

    model_config = ConfigDict(extra="forbid")

    source_uri: Annotated[_Text, StringConstraints(max_length=4096)] = Field(
        description="A path inside AUDIO_ROOTS, a file:// URI, or an http(s):// URL."
    )
    title: Annotated[_Text, StringConstraints(max_length=1000)] | None = None
    platform: Annotated[_Text, StringConstraints(max_length=64)] | None = None
    platform_meeting_id: Annotated[_Text, StringConstraints(max_length=255)] | None = None
    participants: list[UploadParticipant] = Field(default_factory=list, max_length=1000)
    speaker_timeline: list[SpeakerTurnInput] = Field(
        default_factory=list,
        max_length=100_000,
        description="Who spoke when, by name: the platform's active-speaker events.",
    )
    language: Annotated[str, AfterValidator(checked_language)] | None = Field(
        default=None,
        description="The language spoken (ISO 639-1, e.g. de); unset: detected.",
    )
    scheduled_at: AwareDatetime | None = None
    started_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    idempotency_key: Annotated[_Text, StringConstraints(max_length=255)] | None = Field(
        default=None, description="The same key twice gives the same conversation, once."
    )

    @model_validator(mode="after")
    def _meeting_id_needs_its_platform(self) -> Self:
        if self.platform_meeting_id is not None and self.platform is None:
            raise ValueError("platform_meeting_id needs platform")
        return self


@dataclass(frozen=True, slots=True)
class StoredUpload:
    conversation_id: uuid.UUID
    status: ConversationStatus
    created: bool  # False: the same upload came before, and this is its conversation


def enqueue_upload(event: UploadEvent, *, runtime: Runtime | None = None) -> uuid.UUID:
    """Store the upload as a pending conversation and queue it; its conversation id.

    The same idempotency key, or the same platform and meeting id, gives the id of the
    conversation the first upload made, and queues nothing again. A source that cannot be
    read from here (outside AUDIO_ROOTS, a refused address, a missing file) raises an
    AudioSourceError and stores nothing.
    """
    runtime = runtime or current_runtime()
    stored = store_upload(event, runtime=runtime)
    if stored.created:
        start_pipeline(stored.conversation_id, runtime)
    return stored.conversation_id


def store_upload(event: UploadEvent, *, runtime: Runtime | None = None) -> StoredUpload:
    """The storing half of `enqueue_upload`, for callers that queue the work themselves."""
    runtime = runtime or current_runtime()
    uow = runtime.unit_of_work()
    earlier = _earlier_upload(uow, event)
    if earlier is not None:
        return earlier
    runtime.sources.check(event.source_uri)
    try:
        conversation_id = create_conversation(
            uow,
            source_uri=event.source_uri,
            title=event.title,
            participants=[participant.as_input() for participant in event.participants],
            speaker_timeline=[turn.as_turn() for turn in event.speaker_timeline],
            platform=event.platform,
            platform_meeting_id=event.platform_meeting_id,
            requested_language=event.language,
            scheduled_at=event.scheduled_at,
            started_at=event.started_at,
            ended_at=event.ended_at,
            idempotency_key=event.idempotency_key,
            lease_expires_at=runtime.leases.requeue_at(utc_now()),
        )
    except IntegrityError:
        # The same upload, arriving at the same moment: the unique keys let one through.
        earlier = _earlier_upload(uow, event)
        if earlier is None:
            raise
        return earlier
    log.info("stored upload conversation_id=%s", conversation_id)
    return StoredUpload(conversation_id, ConversationStatus.PENDING, created=True)


def _earlier_upload(uow: UnitOfWork, event: UploadEvent) -> StoredUpload | None:
    with uow:
        conversation: Conversation | None = None
        if event.idempotency_key is not None:
            conversation = uow.conversations.get_by_idempotency_key(event.idempotency_key)
        if conversation is None and event.platform and event.platform_meeting_id:
            conversation = uow.conversations.get_by_platform_meeting_id(
                event.platform, event.platform_meeting_id
            )
    if conversation is None:
        return None
    return StoredUpload(conversation.id, conversation.status, created=False)
