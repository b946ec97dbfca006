"""Transcription providers in a fallback order (TRANSCRIPTION_PROVIDERS=soniox,openai,local).

A provider that is away (timeout, 429, 5xx) or refuses us (401/403, quota) hands the
recording to the next one at once: unlike notes, a transcript is worth having now from a
lesser provider rather than later from the preferred one. An error that is the
recording's fault (not audio, no speech) ends the chain at once: every other provider would
say the same. When no provider could answer and one may later, the chain raises
AllProvidersUnavailableError, a transient error, so the task retries with backoff.

A provider that failed is skipped for a cool-down by every worker (`Circuits`), so a
provider that is down costs one timeout per cool-down, not one per meeting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from integrations.synthesis.chain import Closeable
from integrations.transcription.base import (
    AllProvidersUnavailableError,
    Circuits,
    PassedOver,
    RecordingTranscriber,
    Transcript,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
)

log = logging.getLogger(__name__)

DEFAULT_COOLDOWN_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class NamedProvider:
    """A provider as TRANSCRIPTION_PROVIDERS names it."""

    name: str
    transcriber: RecordingTranscriber


class TranscriptionChain:
    """Tries `providers` in order; the transcript names the one that wrote it and the ones
    passed over, with why.

    `circuits` None (or a chain of one: there is nobody to hand over to, and the task's
    backoff already spaces the retries) skips no provider.
    """

    def __init__(
        self,
        providers: Sequence[NamedProvider],
        *,
        circuits: Circuits | None = None,
        cooldown_seconds: float = DEFAULT_COOLDOWN_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not providers:
            raise ValueError("a transcription chain needs at least one provider")
        self.providers = tuple(providers)
        self._circuits = circuits if len(self.providers) > 1 else None
        self._cooldown = timedelta(seconds=cooldown_seconds)
        self._clock = clock

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
        """The transcript of the first provider that writes one.

        Raises UnreadableMediaError / NoSpeechError (the recording's fault) from the first
        provider that finds it; AllProvidersUnavailableError when none answered and one may
        later; TranscriptionRefusedError when every provider refused us.
        """
        passed_over: list[PassedOver] = []
        any_may_answer_later = False
        for provider in self.providers:
            circuit = self._circuits.state(provider.name) if self._circuits else None
            if circuit is not None and circuit.until > self._clock():
                until = circuit.until.astimezone(UTC)
                passed_over.append(
                    PassedOver(
                        provider.name,
                        f"cooling down until {until:%Y-%m-%d %H:%M:%S}Z after: {circuit.reason}",
                    )
                )
                any_may_answer_later = True
                continue
            try:
                transcript = provider.transcriber.transcribe(
                    path,
                    title=title,
                    participants=participants,
                    language=language,
                    speech=speech,
                    on_progress=on_progress,
                )
            except (TranscriptionUnavailableError, TranscriptionRefusedError) as error:
                reason = _reason(error)
                any_may_answer_later |= isinstance(error, TranscriptionUnavailableError)
                passed_over.append(PassedOver(provider.name, reason))
                log.warning(
                    "transcription provider passed over provider=%s error=%s reason=%s",
                    provider.name,
                    type(error).__name__,
                    reason,
                )
                self._open(provider.name, reason)
                continue
            if self._circuits is not None and circuit is not None:
                # Only a circuit that was opened is closed: no write per meeting otherwise.
                self._circuits.close(provider.name)
            return replace(transcript, provider=provider.name, passed_over=tuple(passed_over))
        summary = "; ".join(f"{p.provider}: {p.reason}" for p in passed_over)
        if any_may_answer_later:
            raise AllProvidersUnavailableError(f"no transcription provider answered ({summary})")
        raise TranscriptionRefusedError(f"every transcription provider refused ({summary})")

    def close(self) -> None:
        """Release what the providers hold (HTTP clients' connections)."""
        for provider in self.providers:
            if isinstance(provider.transcriber, Closeable):
                provider.transcriber.close()

    def _open(self, name: str, reason: str) -> None:
        if self._circuits is not None:
            self._circuits.open(name, until=self._clock() + self._cooldown, reason=reason)


def _reason(error: Exception) -> str:
    # Providers' messages name settings, never keys: safe to store and log. One line of it.
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
