"""The one place that turns settings into provider objects.

Stages know providers only by the protocols in `integrations/<kind>/base.py`; which class
serves each one, and in what order they are tried, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from integrations.diarization.base import Diarizer
from integrations.diarization.transcriber import DiarizingTranscriber
from integrations.diarization.voice import VoiceDiarizer
from integrations.synthesis.base import Synthesizer
from integrations.synthesis.chain import NotesStep, SynthesisChain
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.synthesis.grounding import ground
from integrations.synthesis.openai import OpenAISynthesizer
from integrations.synthesis.resolution import resolve_owners_and_dates
from integrations.transcription.base import RecordingTranscriber, Transcriber
from integrations.transcription.chunks import LongRecordings
from integrations.transcription.local import LocalWhisperTranscriber
from integrations.transcription.platform import PlatformTranscripts
from pipeline.config import Settings


class UnknownProviderError(ValueError):
    """A provider name no registry knows: the message names the setting and the choices."""


def build_transcriber(settings: Settings) -> Transcriber:
    # A transcript the platform made is read, whatever provider would transcribe a
    # recording; only a recording goes through diarization (a platform transcript carries
    # its speakers).
    return PlatformTranscripts(_speaker_transcriber(settings))


def build_recording_transcriber(settings: Settings) -> RecordingTranscriber:
    # TRANSCRIPTION_PROVIDERS holds only "local" until cloud providers exist.
    return LocalWhisperTranscriber(settings.whisper_model)


def build_long_recordings(settings: Settings) -> LongRecordings:
    """Recordings past CHUNK_SECONDS: chunks by the recording transcriber alone, speakers
    labelled on the stitched whole as on any recording."""
    return LongRecordings(
        chunk_seconds=settings.chunk_seconds,
        transcriber=build_recording_transcriber(settings),
        speakers=_speaker_transcriber(settings),
    )


def _speaker_transcriber(settings: Settings) -> DiarizingTranscriber:
    return DiarizingTranscriber(
        build_recording_transcriber(settings), diarizer=build_diarizer(settings)
    )


def build_diarizer(settings: Settings) -> Diarizer | None:
    """The diarizer DIARIZATION names; None for "none"."""
    return VoiceDiarizer() if settings.diarization == "voice" else None


# Every provider SYNTHESIS_PROVIDER may name, by that name, built from the settings.
SYNTHESIZERS: Mapping[str, Callable[[Settings], Synthesizer]] = {
    "openai": lambda settings: OpenAISynthesizer(
        base_url=settings.openai_base_url,
        model=settings.synthesis_model,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        max_input_tokens=settings.synthesis_max_input_tokens,
        timeout_seconds=settings.synthesis_timeout_seconds,
    ),
    "extractive": lambda settings: ExtractiveSynthesizer(),
}

# What the notes go through after a provider wrote them, whichever it was, in this order.
# Grounding first: an owner or a date is resolved only for an item that was said.
NOTES_STEPS: Sequence[NotesStep] = (
    lambda notes, utterances, meeting: ground(notes, utterances),
    resolve_owners_and_dates,
)


def build_synthesizer(
    settings: Settings, order: Sequence[str] | None = None, *, setting: str = "SYNTHESIS_PROVIDER"
) -> SynthesisChain:
    """The providers `order` names (by default SYNTHESIS_PROVIDER's), tried in that order.

    Raises UnknownProviderError, naming `setting`, for a name no provider has.
    """
    names = settings.synthesis_provider if order is None else order
    check_synthesis_order(names, setting=setting)
    return synthesis_chain([SYNTHESIZERS[name](settings) for name in names])


def check_synthesis_order(names: Sequence[str], *, setting: str) -> None:
    """Raises UnknownProviderError, naming `setting`, unless every name is a provider's."""
    if not names:
        raise UnknownProviderError(f"{setting}: name at least one provider")
    for name in names:
        if name not in SYNTHESIZERS:
            raise UnknownProviderError(
                f"{setting}: no synthesis provider is named {name!r}; "
                f"known: {', '.join(SYNTHESIZERS)}"
            )


def synthesis_chain(providers: Sequence[Synthesizer]) -> SynthesisChain:
    """`providers` tried in order, their notes through every step."""
    return SynthesisChain(providers, steps=NOTES_STEPS)


def synthesis_order(value: str) -> list[str]:
    """Provider names as an operator writes them: "openai,extractive"."""
    return [name.strip() for name in value.split(",") if name.strip()]
