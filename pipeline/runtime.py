"""What one process builds once from the settings: engine, session factory, providers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from integrations.audio_sources import LocalAudioSource
from integrations.synthesis.extractive import ExtractiveSynthesizer
from integrations.transcription.local import LocalWhisperTranscriber
from pipeline.config import Settings
from repositories.database import UnitOfWork, create_database_engine, create_session_factory


@dataclass
class Runtime:
    settings: Settings
    extra_audio_roots: Sequence[Path] = field(default=())

    @cached_property
    def engine(self) -> Engine:
        return create_database_engine(self.settings.database_url.get_secret_value())

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return create_session_factory(self.engine)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    @cached_property
    def transcriber(self) -> LocalWhisperTranscriber:
        # TRANSCRIPTION_PROVIDERS holds only "local" until cloud providers exist.
        return LocalWhisperTranscriber(self.settings.whisper_model)

    @cached_property
    def synthesizer(self) -> ExtractiveSynthesizer:
        return ExtractiveSynthesizer()

    @cached_property
    def sources(self) -> LocalAudioSource:
        return LocalAudioSource([*self.settings.audio_roots, *self.extra_audio_roots])
