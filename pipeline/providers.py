"""The one place that turns settings into provider objects.

Stages know providers only by the protocols in `integrations/<kind>/base.py`; which class
serves each one, and in what order they are tried, is decided here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pydantic import SecretStr

from integrations.diarization.base import Diarizer
from integrations.diarization.transcriber import DiarizingTranscriber
from integrations.diarization.voice import VoiceDiarizer
from integrations.email.smtp import Mailer, SmtpServer
from integrations.synthesis.base import Synthesizer
from integrations.synthesis.chain import NotesStep, SynthesisChain
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.synthesis.grounding import ground
from integrations.synthesis.openai import OpenAISynthesizer
from integrations.synthesis.resolution import resolve_owners_and_dates
from integrations.transcription.base import Circuits, RecordingTranscriber, Transcriber
from integrations.transcription.chain import NamedProvider, TranscriptionChain
from integrations.transcription.chunks import LongRecordings
from integrations.transcription.local import LocalWhisperTranscriber
from integrations.transcription.openai import OpenAITranscriber
from integrations.transcription.platform import PlatformTranscripts
from integrations.transcription.soniox import SonioxTranscriber
from pipeline.config import Settings
from pipeline.metrics import count_tokens


class UnknownProviderError(ValueError):
    """A provider name no registry knows: the message names the setting and the choices."""


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


# Every provider TRANSCRIPTION_PROVIDERS may name, by that name, built from the settings.
TRANSCRIBERS: Mapping[str, Callable[[Settings], RecordingTranscriber]] = {
    "soniox": lambda settings: SonioxTranscriber(
        api_key=_secret(settings.soniox_api_key),
        base_url=settings.soniox_base_url,
        model=settings.soniox_model,
    ),
    "openai": lambda settings: OpenAITranscriber(
        base_url=settings.transcription_base_url or settings.openai_base_url,
        api_key=_secret(settings.transcription_api_key or settings.openai_api_key),
        model=settings.transcription_model,
        max_upload_bytes=settings.transcription_max_upload_bytes,
        timeout_seconds=settings.transcription_timeout_seconds,
    ),
    "local": lambda settings: LocalWhisperTranscriber(
        settings.whisper_model, cache_dir=settings.models_dir
    ),
}


def build_transcriber(
    settings: Settings,
    *,
    circuits: Circuits | None = None,
    speakers: DiarizingTranscriber | None = None,
) -> Transcriber:
    """The recording transcriber with speakers told apart (`speakers`, or those
    `build_speakers` makes); a transcript the platform made is read as it is."""
    # A transcript the platform made is read, whatever provider would transcribe a
    # recording; only a recording goes through diarization (a platform transcript carries
    # its speakers), which names voices only where the provider gave no speakers.
    return PlatformTranscripts(speakers or build_speakers(settings, circuits=circuits))


def build_speakers(settings: Settings, *, circuits: Circuits | None = None) -> DiarizingTranscriber:
    """The recording transcriber (`build_recording_transcriber`) with speakers told apart
    as DIARIZATION says. A process builds it once: whole recordings and long ones' chunks
    share its providers' clients and its voice encoder."""
    return DiarizingTranscriber(
        build_recording_transcriber(settings, circuits=circuits),
        diarizer=build_diarizer(settings),
    )


def build_recording_transcriber(
    settings: Settings, *, circuits: Circuits | None = None
) -> RecordingTranscriber:
    """The providers TRANSCRIPTION_PROVIDERS names, tried in that order; `circuits` shared
    by the workers skip one that failed recently.

    Raises TranscriptionRefusedError for a provider named without what it needs (a key).
    """
    return TranscriptionChain(
        [
            NamedProvider(name, TRANSCRIBERS[name](settings))
            for name in settings.transcription_providers
        ],
        circuits=circuits,
        cooldown_seconds=settings.transcription_cooldown_seconds,
    )


def build_long_recordings(settings: Settings, speakers: DiarizingTranscriber) -> LongRecordings:
    """Recordings past CHUNK_SECONDS: chunks by the recording transcriber of `speakers`
    alone (the same fallback order), speakers labelled on the stitched whole as on any
    recording. With the local provider in the order, its Whisper tells the whole
    recording's language once, for every chunk; without it, each chunk's provider tells
    its own."""
    return LongRecordings(
        chunk_seconds=settings.chunk_seconds,
        transcriber=speakers.recordings,
        speakers=speakers,
        detector=(
            LocalWhisperTranscriber(settings.whisper_model, cache_dir=settings.models_dir)
            if "local" in settings.transcription_providers
            else None
        ),
    )


def build_diarizer(settings: Settings) -> Diarizer | None:
    """The diarizer DIARIZATION names; None for "none"."""
    return VoiceDiarizer() if settings.diarization == "voice" else None


# Every provider SYNTHESIS_PROVIDER may name, by that name, built from the settings.
SYNTHESIZERS: Mapping[str, Callable[[Settings], Synthesizer]] = {
    "openai": lambda settings: OpenAISynthesizer(
        base_url=settings.openai_base_url,
        model=settings.synthesis_model,
        api_key=_secret(settings.openai_api_key),
        max_input_tokens=settings.synthesis_max_input_tokens,
        timeout_seconds=settings.synthesis_timeout_seconds,
    ),
    "extractive": lambda settings: ExtractiveSynthesizer(),
}

# What the notes go through after a provider wrote them, whichever it was, in this order.
# Grounding first: an owner or a date is resolved only for an item that was said. The
# tokens are counted last, whatever the steps did, once per synthesis.
NOTES_STEPS: Sequence[NotesStep] = (
    lambda notes, utterances, meeting: ground(notes, utterances),
    resolve_owners_and_dates,
    count_tokens,
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


def build_mailer(settings: Settings) -> Mailer | None:
    """The notes' mailer; None when SMTP_URL is unset (deliveries are recorded as skipped)."""
    if settings.smtp_url is None or not settings.email_from:
        return None
    return Mailer(
        SmtpServer.parse(settings.smtp_url.get_secret_value()),
        sender=settings.email_from,
        copy_to=tuple(settings.email_to),
        ca_file=settings.smtp_ca_file,
        timeout=settings.smtp_timeout_seconds,
    )
