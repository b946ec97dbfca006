"""What every synthesis provider takes and returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from integrations.errors import IntegrationError, TransientIntegrationError


@dataclass(frozen=True, slots=True)
class Utterance:
    """One transcript segment, as the synthesizer reads it."""

    segment_id: int  # the segment's position in the transcript: what evidence cites
    text: str
    speaker: str | None = None
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True, slots=True)
class Attendee:
    """Someone invited to or heard in the meeting, as the notes may name them."""

    name: str
    email: str | None = None
    is_organizer: bool = False


@dataclass(frozen=True, slots=True)
class MeetingContext:
    """What the notes are written about, besides the transcript."""

    title: str | None = None
    attendees: Sequence[Attendee] = ()
    # The meeting's start (or, unknown, the conversation's creation): what "Friday" means.
    started_at: datetime | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Where the transcript says it: the cited segments and a short verbatim quote."""

    segment_ids: tuple[int, ...]
    quote: str


@dataclass(frozen=True, slots=True)
class NoteItem:
    """A decision or an open question."""

    text: str
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class ActionItem:
    text: str
    owner: str | None = None  # a participant's name, or a role ("Project Manager") as said
    owner_email: str | None = None  # when the owner is a participant with a known address
    due: str | None = None  # the phrase as said: "next Friday"
    due_date: date | None = None  # `due` resolved against the meeting's start
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class Notes:
    summary: str
    key_decisions: list[NoteItem] = field(default_factory=list)
    action_items: list[ActionItem] = field(default_factory=list)
    open_questions: list[NoteItem] = field(default_factory=list)
    key_topics: list[str] = field(default_factory=list)
    provider: str = "extractive"
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    seconds: float | None = None  # wall time the provider took
    dropped_items: int = 0  # items whose evidence did not check out against the transcript


class Synthesizer(Protocol):
    """A notes provider: `name` is what SYNTHESIS_PROVIDER calls it."""

    name: str

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes: ...


class SynthesisError(IntegrationError):
    """A provider could not write notes, for good (asking again gives the same answer)."""


class SynthesisConfigurationError(SynthesisError):
    """The provider refuses us (401/403, unknown model): the message names the setting."""


class SynthesisUnavailableError(TransientIntegrationError):
    """The provider is away for now (timeout, 429, 5xx): worth asking again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
