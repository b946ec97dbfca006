"""The one reader of the environment: every setting minutes has, typed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Only the providers that are built are accepted, so a typo or an unbuilt provider fails at
# start-up rather than in the middle of a meeting.
TranscriptionProvider = Literal["local"]
SynthesisProvider = Literal["extractive"]


def _split_commas(value: object) -> object:
    # Operators write lists as "local,soniox" in the environment, not as JSON.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr = SecretStr("sqlite:///minutes.db")
    # Unset: no broker, every stage runs in the calling process.
    celery_broker_url: SecretStr | None = None
    celery_result_backend: SecretStr | None = None
    whisper_model: str | None = Field(
        default=None,
        description="A faster-whisper model name or path; unset means the bundled tiny.en.",
    )
    transcription_providers: Annotated[list[TranscriptionProvider], NoDecode] = ["local"]
    synthesis_provider: SynthesisProvider = "extractive"
    audio_roots: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [Path.cwd()])

    @field_validator("transcription_providers", "audio_roots", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("transcription_providers")
    @classmethod
    def _at_least_one_provider(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one transcription provider")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
