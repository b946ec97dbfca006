"""What every transcription provider returns, whatever it runs on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from integrations.diarization.base import NamedTurn
from integrations.errors import IntegrationError, TransientIntegrationError


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass(frozen=True, slots=True)
class TranscribedSegment:
    start: float
    end: float
    text: str
    speaker: str | None = None
    words: tuple[Word, ...] = ()


def retimed(segment: TranscribedSegment, at: Callable[[float], float]) -> TranscribedSegment:
    """`segment` with every time in it (its own and its words') moved by `at`."""
    return replace(
        segment,
        start=at(segment.start),
        end=at(segment.end),
        words=tuple(replace(w, start=at(w.start), end=at(w.end)) for w in segment.words),
    )


@dataclass(frozen=True, slots=True)
class PassedOver:
    """A provider a fallback chain tried before the one that wrote the transcript, and why
    it gave way (a timeout, a refusal, an open circuit)."""

    provider: str
    reason: str


@dataclass(frozen=True, slots=True)
class Transcript:
    segments: tuple[TranscribedSegment, ...]
    language: str
    duration: float
    provider: str
    model: str | None = None
    passed_over: tuple[PassedOver, ...] = ()


class RecordingTranscriber(Protocol):
    """What turns speech into text: a recording in, segments out (speakers or not)."""

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        language: str | None = None,
        speech: Sequence[tuple[float, float]] | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """`title` and `participants` (names) are what the meeting is known to be about
        and who is in it, for providers that spell better knowing them. `language` (an
        ISO 639-1 code) is the language the speech is known to be in; None detects it.
        `speech` (seconds into `path`) is where a VAD over the longer recording `path` is
        a chunk of found speech, for providers that decode windows of speech (the local
        one: a chunk's windows are then the whole recording's); others ignore it.
        `on_progress` is called with the fraction done, 0 to 1."""
        ...


class Transcriber(Protocol):
    """A transcription provider as the pipeline uses it: a recording (or a transcript
    file) in, segments out, with speakers where they can be told."""

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        """As `RecordingTranscriber.transcribe`; `timeline` is who spoke when, as given
        with the upload (empty when nobody said), and names the speakers."""
        ...


class TranscriptionError(IntegrationError):
    """Transcription failed."""


class UnreadableMediaError(TranscriptionError):
    """The file is not audio that can be decoded."""


class NoSpeechError(TranscriptionError):
    """The audio decodes but holds no speech (empty or silent)."""


class MalformedTranscriptError(TranscriptionError):
    """A platform transcript file that cannot be parsed."""


class TranscriptionRefusedError(TranscriptionError):
    """A provider refuses us (401/403, quota spent, a setting it does not take): the
    recording is not at fault, and asking again soon gives the same answer. The message
    names the setting to check, never the key."""


class TranscriptionUnavailableError(TransientIntegrationError):
    """A provider is away for now (timeout, connection refused, 429, 5xx, a reply that is
    not a transcript): worth asking again later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AllProvidersUnavailableError(TranscriptionUnavailableError):
    """Every provider of a fallback chain was away, cooling down or refused us, and at least
    one may answer later: the task retries with backoff."""


@dataclass(frozen=True, slots=True)
class OpenCircuit:
    """A provider skipped until `until` because it failed recently, and how."""

    until: datetime
    reason: str


class Circuits(Protocol):
    """Which providers failed recently, shared by every worker (a fallback chain skips
    those for a cool-down instead of waiting on each one's timeout again)."""

    def state(self, provider: str) -> OpenCircuit | None:
        """The provider's circuit as last opened (its `until` may have passed); None when
        it is closed."""
        ...

    def open(self, provider: str, *, until: datetime, reason: str) -> None:
        """Skip `provider` until `until`."""
        ...

    def close(self, provider: str) -> None:
        """The provider answered again: stop skipping it."""
        ...
