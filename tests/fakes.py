"""Providers for worker tests: instant, slow, flaky, broken, or stuck until killed.

They stand in for the outside world (a transcription or notes provider), never for our
code; workers load them through `tests.worker_main`. Counters and markers live in files,
because the calls happen in worker processes.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from integrations.diarization.base import NamedTurn
from integrations.errors import TransientIntegrationError
from integrations.synthesis.base import MeetingContext, Notes, Utterance
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.transcription.base import TranscribedSegment, Transcript, UnreadableMediaError

TRANSCRIPT = Transcript(
    segments=(
        TranscribedSegment(0.0, 4.0, "We decided to ship the beta on Friday.", speaker="Ann Lee"),
        TranscribedSegment(
            4.0, 8.5, "Bob will write the release notes by Thursday.", speaker="Bob Stone"
        ),
        TranscribedSegment(8.5, 12.0, "Should we invite the design team?", speaker="Ann Lee"),
    ),
    language="en",
    duration=12.0,
    provider="test",
)


def count_call(counter: Path) -> int:
    """Adds one to the number in `counter`; the new number."""
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    return calls


class InstantTranscriber:
    """Answers at once; the others below change what a call does (`_behave`)."""

    def __init__(self, state: Path, *, seconds: float = 0.0) -> None:
        self._counter = state / "transcriptions"
        self._seconds = seconds

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
        self._behave(count_call(self._counter), path, on_progress or (lambda fraction: None))
        if on_progress is not None:
            on_progress(1.0)
        return TRANSCRIPT

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        time.sleep(self._seconds)


class StuckTranscriber(InstantTranscriber):
    """Hangs inside its first transcription (until the test kills the worker)."""

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        if call == 1:
            report(0.4)
            time.sleep(3600)


class FlakyTranscriber(InstantTranscriber):
    """The provider is away for its first two calls, then answers."""

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        if call <= 2:
            raise TransientIntegrationError("transcription service unavailable (HTTP 503)")


class BrokenMediaTranscriber(InstantTranscriber):
    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        raise UnreadableMediaError(f"{path.name}: not audio")


class CheckingTranscriber(InstantTranscriber):
    """Refuses an empty file, as any provider does: it is not audio."""

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        if path.stat().st_size == 0:
            raise UnreadableMediaError(f"{path.name}: not audio")


class HalfwayTranscriber(InstantTranscriber):
    """Says it is half done, then finishes once the test creates the file `release` in the
    state folder (or after a minute)."""

    def __init__(self, state: Path) -> None:
        super().__init__(state)
        self._release = state / "release"

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        report(0.5)
        deadline = time.monotonic() + 60.0
        while not self._release.exists() and time.monotonic() < deadline:
            time.sleep(0.1)


class WorkerKillingTranscriber(InstantTranscriber):
    """Takes its worker process down every time, as a recording that runs it out of memory."""

    def _behave(self, call: int, path: Path, report: Callable[[float], None]) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class CountingSynthesizer:
    name = "counting"

    def __init__(self, state: Path) -> None:
        self._counter = state / "syntheses"
        self._notes = ExtractiveSynthesizer()

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        count_call(self._counter)
        return self._notes.synthesize(utterances, meeting)


class ChatSynthesizer(CountingSynthesizer):
    """Notes as a chat model's server answers them: with the model and its token usage."""

    name = "chat"

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        notes = super().synthesize(utterances, meeting)
        return replace(notes, model="chat-model", prompt_tokens=1200, completion_tokens=300)


class StuckSynthesizer(CountingSynthesizer):
    """Hangs inside its first synthesis (until the test kills the worker)."""

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        if count_call(self._counter) == 1:
            time.sleep(3600)
        return self._notes.synthesize(utterances, meeting)


TRANSCRIBERS = {
    "instant": InstantTranscriber,
    "slow": lambda state: InstantTranscriber(state, seconds=2.0),
    "stuck": StuckTranscriber,
    "flaky": FlakyTranscriber,
    "broken": BrokenMediaTranscriber,
    "checking": CheckingTranscriber,
    "halfway": HalfwayTranscriber,
    "killer": WorkerKillingTranscriber,
}
SYNTHESIZERS = {
    "counting": CountingSynthesizer,
    "chat": ChatSynthesizer,
    "stuck": StuckSynthesizer,
}
