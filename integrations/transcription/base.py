"""What every transcription provider returns, whatever it runs on."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.errors import IntegrationError


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


@dataclass(frozen=True, slots=True)
class Transcript:
    segments: tuple[TranscribedSegment, ...]
    language: str
    duration: float
    provider: str
    model: str | None = None


class TranscriptionError(IntegrationError):
    """Transcription failed."""


class UnreadableMediaError(TranscriptionError):
    """The file is not audio that can be decoded."""


class NoSpeechError(TranscriptionError):
    """The audio decodes but holds no speech (empty or silent)."""


class MalformedTranscriptError(TranscriptionError):
    """A platform transcript file that cannot be parsed."""
