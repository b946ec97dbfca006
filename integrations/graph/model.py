"""What one meeting puts in the graph, as plain data, and how people and topics get keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Re-exported: the graph's keys are made with it.
from integrations.people import normalize_name as normalize_name
from integrations.people import person_key


@dataclass(frozen=True, slots=True)
class Person:
    """Someone as a meeting knows them: a name, and an email when one was given."""

    name: str
    email: str | None = None

    @property
    def name_key(self) -> str:
        return normalize_name(self.name)

    @property
    def key(self) -> str:
        """The `Person.key` of DESIGN.md: the lower-cased email, else `name:<normalized>`."""
        return person_key(self.name, self.email)


@dataclass(frozen=True, slots=True)
class Attendance:
    person: Person
    organizer: bool = False
    # None: the person did not speak (or the transcript named no speakers).
    spoken_seconds: float | None = None
    spoken_words: int | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """A decision or an open question: one sentence of the notes, with a stable id."""

    id: str
    text: str
    quote: str | None = None  # the transcript's words the notes checked it against
    start: float | None = None  # seconds into the meeting the quote was said


@dataclass(frozen=True, slots=True)
class Task:
    """An action item; `owner` is None when the notes name nobody."""

    id: str
    text: str
    owner: Person | None = None
    due: str | None = None
    quote: str | None = None
    start: float | None = None
    key: str = ""  # the owner and the task, unique within the meeting
    due_date: str | None = None  # ISO date
    # As followed across meetings: done once a later meeting reports it so.
    state: str = "open"
    closed_in: str | None = None  # the meeting that reported it done
    closed_at: datetime | None = None
    # The ids of the items it repeats, of an earlier meeting, and that repeat it, later.
    carried_over_from: str | None = None
    carried_over_to: str | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    """A completed conversation and everything of it the graph holds."""

    id: str
    title: str | None
    completed_at: datetime | None = None
    started_at: datetime | None = None
    duration_seconds: float | None = None
    platform: str | None = None
    language: str | None = None
    summary: str | None = None
    attendees: Sequence[Attendance] = field(default_factory=tuple)
    topics: Sequence[str] = field(default_factory=tuple)
    decisions: Sequence[Statement] = field(default_factory=tuple)
    action_items: Sequence[Task] = field(default_factory=tuple)
    questions: Sequence[Statement] = field(default_factory=tuple)

    def people(self) -> list[Person]:
        """Everyone this meeting names: attendees, then owners who did not attend."""
        found = [attendance.person for attendance in self.attendees]
        found += [item.owner for item in self.action_items if item.owner is not None]
        return found
