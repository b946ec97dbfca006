"""The one place that turns settings into provider objects.

Stages know providers only by the protocols in `integrations/<kind>/base.py`; which class
serves each one, and in what order they are tried, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from integrations.synthesis.base import Synthesizer
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.transcription.base import Transcriber
from integrations.transcription.local import LocalWhisperTranscriber
from integrations.transcription.platform import PlatformTranscripts
from pipeline.config import Settings

_Factory = TypeVar("_Factory")


class UnknownProviderError(ValueError):
    """A provider name no registry knows: the message names the setting and the choices."""


def build_transcriber(settings: Settings) -> Transcriber:
    # TRANSCRIPTION_PROVIDERS holds only "local" until cloud providers exist. A transcript
    # the platform made is read, whatever provider would transcribe a recording.
    return PlatformTranscripts(LocalWhisperTranscriber(settings.whisper_model))


# Every synthesis provider SYNTHESIS_PROVIDER may name, built from the settings.
SYNTHESIZERS: Mapping[str, Callable[[Settings], Synthesizer]] = {
    "extractive": lambda settings: ExtractiveSynthesizer(),
}


def build_synthesizer(settings: Settings) -> Synthesizer:
    (name,) = settings.synthesis_provider
    return _known(SYNTHESIZERS, name, "SYNTHESIS_PROVIDER")(settings)


def _known(registry: Mapping[str, _Factory], name: str, setting: str) -> _Factory:
    try:
        return registry[name]
    except KeyError:
        raise UnknownProviderError(
            f"{setting}: no provider is named {name!r}; known: {', '.join(registry)}"
        ) from None
