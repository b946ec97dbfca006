"""What every diarizer returns: who spoke when, as turns labelled by voice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from integrations.errors import IntegrationError


@dataclass(frozen=True, slots=True)
class SpeakerTurn:
    """One voice speaking from `start` to `end` (seconds into the recording).

    `speaker` is a label that is the same for every turn of one voice ("Speaker 1"); it
    names nobody until the meeting tells us who that voice is.
    """

    start: float
    end: float
    speaker: str


@dataclass(frozen=True, slots=True)
class NamedTurn:
    """A known person speaking from `start` to `end`: what a meeting platform's
    active-speaker events (or an RTTM file) say, given with the upload."""

    start: float
    end: float
    name: str
    email: str | None = None


class Diarizer(Protocol):
    """Splits a recording into speaker turns."""

    @property
    def name(self) -> str:
        """Which diarizer made the turns, stored beside them."""
        ...

    def diarize(self, path: Path, *, max_speakers: int | None = None) -> tuple[SpeakerTurn, ...]:
        """Turns in time order, not overlapping; no turns when nothing is said.

        `max_speakers` bounds the number of voices when the participants are known.
        Raises UnreadableMediaError (integrations.transcription.base: the same media
        fail both stages) when the file is not decodable audio, DiarizerUnavailableError
        when what the diarizer runs on is not installed.
        A missing file raises FileNotFoundError.
        """
        ...


class DiarizationError(IntegrationError):
    """Diarization failed."""


class DiarizerUnavailableError(DiarizationError):
    """What the diarizer needs (a model's weights) is not installed on this machine."""
