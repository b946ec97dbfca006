"""SYNTHESIS_PROVIDER's fallback order: which provider writes the notes, and when."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import pytest

from integrations.errors import TransientIntegrationError
from integrations.synthesis.base import (
    MeetingContext,
    NoteItem,
    Notes,
    SynthesisConfigurationError,
    SynthesisError,
    SynthesisUnavailableError,
    Utterance,
)
from integrations.synthesis.chain import SynthesisChain

UTTERANCES = [
    Utterance(segment_id=0, text="We go with the blue case.", speaker="Ann Lee", end=3.0),
    Utterance(segment_id=1, text="Fine by me.", speaker="Bo Chen", start=3.0, end=4.0),
]
MEETING = MeetingContext(title="Design review")


class ScriptedProvider:
    """An outside notes provider that answers from a script: an error, or notes."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name = name
        self.calls = 0
        self._error = error

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        self.calls += 1
        if self._error is not None:
            raise self._error
        return Notes(
            summary=f"notes by {self.name}",
            key_decisions=[NoteItem(utterances[0].text)],
            provider="whatever it calls itself",
            model=f"{self.name}-model",
            prompt_tokens=120,
            completion_tokens=30,
        )


class TestFallbackOrder:
    def test_the_first_provider_that_answers_writes_the_notes(self) -> None:
        first, second = ScriptedProvider("openai"), ScriptedProvider("extractive")

        notes = SynthesisChain([first, second]).synthesize(UTTERANCES, MEETING)

        assert (notes.summary, notes.provider, notes.model) == (
            "notes by openai",
            "openai",
            "openai-model",
        )
        assert (notes.prompt_tokens, notes.completion_tokens) == (120, 30)
        assert notes.seconds is not None
        assert notes.seconds >= 0
        assert second.calls == 0

    @pytest.mark.parametrize(
        "error",
        [
            SynthesisError("the model's answer is not JSON, even after a repair round"),
            SynthesisConfigurationError("the server refuses OPENAI_API_KEY (HTTP 401)"),
        ],
    )
    def test_a_provider_that_fails_for_good_passes_the_meeting_to_the_next(
        self, error: Exception, caplog: pytest.LogCaptureFixture
    ) -> None:
        second = ScriptedProvider("extractive")

        with caplog.at_level(logging.WARNING, logger="integrations.synthesis.chain"):
            notes = SynthesisChain([ScriptedProvider("openai", error), second]).synthesize(
                UTTERANCES, MEETING, final_attempt=False
            )

        assert (notes.summary, notes.provider) == ("notes by extractive", "extractive")
        (record,) = caplog.records
        assert "provider=openai" in record.getMessage()
        assert str(error) in record.getMessage()
        assert "next=extractive" in record.getMessage()

    @pytest.mark.parametrize(
        "error",
        [
            SynthesisUnavailableError("the server is busy (HTTP 429)", retry_after=30),
            TransientIntegrationError("connection reset"),
        ],
    )
    def test_a_provider_away_for_now_is_retried_rather_than_passed_over(
        self, error: Exception
    ) -> None:
        second = ScriptedProvider("extractive")

        with pytest.raises(type(error)):
            SynthesisChain([ScriptedProvider("openai", error), second]).synthesize(
                UTTERANCES, MEETING, final_attempt=False
            )

        assert second.calls == 0

    def test_on_the_final_attempt_a_provider_away_is_passed_over(self) -> None:
        away = ScriptedProvider("openai", SynthesisUnavailableError("timed out after 120 s"))

        notes = SynthesisChain([away, ScriptedProvider("extractive")]).synthesize(
            UTTERANCES, MEETING, final_attempt=True
        )

        assert notes.provider == "extractive"

    def test_when_the_last_provider_fails_its_error_is_the_synthesis_error(self) -> None:
        chain = SynthesisChain(
            [
                ScriptedProvider("openai", SynthesisConfigurationError("SYNTHESIS_MODEL unknown")),
                ScriptedProvider("extractive", SynthesisError("nothing was said")),
            ]
        )

        with pytest.raises(SynthesisError, match="nothing was said"):
            chain.synthesize(UTTERANCES, MEETING)

    def test_the_steps_see_the_notes_of_whichever_provider_wrote_them(self) -> None:
        seen: list[str] = []

        def step(notes: Notes, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
            seen.append(notes.provider)
            return replace(notes, dropped_items=len(utterances))

        chain = SynthesisChain(
            [ScriptedProvider("openai", SynthesisError("refused")), ScriptedProvider("extractive")],
            steps=[step],
        )
        notes = chain.synthesize(UTTERANCES, MEETING)

        assert seen == ["extractive"]
        assert notes.dropped_items == 2

    def test_the_chain_is_named_by_its_order(self) -> None:
        chain = SynthesisChain([ScriptedProvider("openai"), ScriptedProvider("extractive")])
        assert chain.name == "openai,extractive"
