"""Synthesis providers in a fallback order (SYNTHESIS_PROVIDER=openai,extractive).

The first provider that writes notes wins. One that fails for good (refused, unusable
answer) passes the meeting to the next. One that is only away for now (timeout, 429, 5xx)
makes the whole synthesis fail as transient, so the task retries with backoff and the
preferred provider gets its chance again; on the task's final attempt there is no later,
so the next provider writes the notes instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from integrations.errors import TransientIntegrationError
from integrations.synthesis.base import (
    MeetingContext,
    Notes,
    SynthesisError,
    Synthesizer,
    Utterance,
)

log = logging.getLogger(__name__)

# A step every provider's notes go through before they are stored, whichever provider
# wrote them (checking evidence against the transcript, resolving owners and dates).
NotesStep = Callable[[Notes, Sequence[Utterance], MeetingContext], Notes]


class SynthesisChain:
    """Tries `providers` in order; then applies `steps` to the notes the first one wrote."""

    def __init__(self, providers: Sequence[Synthesizer], *, steps: Sequence[NotesStep] = ()):
        if not providers:
            raise ValueError("a synthesis chain needs at least one provider")
        self.providers = tuple(providers)
        self.steps = tuple(steps)
        self.name = ",".join(provider.name for provider in self.providers)

    def synthesize(
        self,
        utterances: Sequence[Utterance],
        meeting: MeetingContext,
        *,
        final_attempt: bool = True,
    ) -> Notes:
        """The notes of the first provider that writes them, through every step.
        `final_attempt` False means a transient error will be retried: it propagates instead
        of falling through to the next provider."""
        notes = self._first_notes(utterances, meeting, final_attempt)
        for step in self.steps:
            notes = step(notes, utterances, meeting)
        return notes

    def _first_notes(
        self, utterances: Sequence[Utterance], meeting: MeetingContext, final_attempt: bool
    ) -> Notes:
        for provider, fallback in zip(self.providers, self.providers[1:], strict=False):
            try:
                return _written_by(provider, utterances, meeting)
            except SynthesisError as error:
                _passed_over(provider, fallback, error)
            except TransientIntegrationError as error:
                if not final_attempt:
                    raise
                _passed_over(provider, fallback, error)
        return _written_by(self.providers[-1], utterances, meeting)


def _written_by(
    provider: Synthesizer, utterances: Sequence[Utterance], meeting: MeetingContext
) -> Notes:
    started = time.monotonic()
    notes = provider.synthesize(utterances, meeting)
    # Named as SYNTHESIS_PROVIDER names it, whatever the provider calls itself.
    return replace(
        notes,
        provider=provider.name,
        seconds=notes.seconds
        if notes.seconds is not None
        else round(time.monotonic() - started, 3),
    )


def _passed_over(provider: Synthesizer, fallback: Synthesizer, error: Exception) -> None:
    # Providers' messages name settings, never keys: safe to log. One line of it.
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    log.warning(
        "synthesis provider passed over provider=%s error=%s reason=%s next=%s",
        provider.name,
        type(error).__name__,
        reason,
        fallback.name,
    )
