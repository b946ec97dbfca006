"""The one reader of the environment: every setting minutes has, typed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from integrations.email.smtp import EmailAddressError, SmtpServer

# Only the providers that are built are accepted, so a typo or an unbuilt provider fails at
# start-up rather than in the middle of a meeting.
# (The synthesis providers' names are checked where they are built: pipeline/providers.py.)
TranscriptionProvider = Literal["soniox", "openai", "local"]


def _split_commas(value: object) -> object:
    # Operators write lists as "local,soniox" in the environment, not as JSON.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    # Errors never repeat what was given: URLs hold passwords.
    model_config = SettingsConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    database_url: SecretStr = SecretStr("sqlite:///minutes.db")
    # Unset: no broker, every stage runs in the calling process.
    celery_broker_url: SecretStr | None = None
    celery_result_backend: SecretStr | None = None
    whisper_model: str | None = Field(
        default=None,
        description=(
            "tiny.en (unset: the bundled English-only model), base (the packaged multilingual"
            " one), auto (tiny.en for English speech, base for other languages), or a"
            " faster-whisper model name or path."
        ),
    )
    # Where packaged models that need assembling (the base model's two halves) are joined,
    # once; unset: $XDG_CACHE_HOME/minutes, else ~/.cache/minutes.
    model_cache_dir: Path | None = None
    xdg_cache_home: Path | None = Field(default=None, validation_alias="XDG_CACHE_HOME")
    # Who spoke when in a recording: "voice" clusters the voices on this machine (the
    # Resemblyzer encoder), "none" leaves speakers to the channels and a given timeline.
    diarization: Literal["voice", "none"] = "voice"
    # A recording longer than this (seconds) is cut at pauses into chunks about this long,
    # each transcribed by whichever worker takes it.
    chunk_seconds: float = Field(default=600.0, gt=0)
    # The order transcription providers are tried in: one that is down or refuses us hands
    # the recording to the next at once (see integrations/transcription/chain.py).
    transcription_providers: Annotated[list[TranscriptionProvider], NoDecode] = ["local"]
    # A provider that failed is skipped by every worker this long.
    transcription_cooldown_seconds: float = Field(default=120.0, ge=0)
    soniox_api_key: SecretStr | None = None
    soniox_base_url: str = "https://api.soniox.com"
    soniox_model: str = "stt-async-v4"
    # Any OpenAI-compatible /audio/transcriptions (OpenAI, Groq, a faster-whisper or vLLM
    # server); unset: OPENAI_BASE_URL and OPENAI_API_KEY.
    transcription_base_url: str | None = None
    transcription_api_key: SecretStr | None = None
    transcription_model: str = "whisper-1"
    # Larger recordings are cut at pauses into pieces that fit (OpenAI takes 25 MB).
    transcription_max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=256 * 1024)
    # One request's wait: a whole recording's upload and transcription.
    transcription_timeout_seconds: float = Field(default=600.0, gt=0)
    # The order providers are tried in: when one fails for good, the next writes the notes.
    synthesis_provider: Annotated[list[str], NoDecode] = ["extractive"]
    # Notes from a chat model: any server speaking OpenAI's chat completions API (OpenAI,
    # vLLM, Ollama, llama.cpp's server, LM Studio).
    openai_base_url: str = "https://api.openai.com/v1"
    # Unset: requests carry no key (local servers need none).
    openai_api_key: SecretStr | None = None
    # No default worth guessing: the openai provider refuses to start without one.
    synthesis_model: str | None = None
    # Transcript tokens per request; a longer transcript is noted in parts, then merged.
    # The model's context must hold this plus about 2000 (instructions and reply).
    synthesis_max_input_tokens: int = Field(default=6000, gt=0)
    # One request's wait for the whole reply: a CPU-only local server takes minutes.
    synthesis_timeout_seconds: float = Field(default=300.0, gt=0)
    audio_roots: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [Path.cwd()])
    # http(s) sources: hooks hand us URLs, so by default they may not reach this machine or
    # its private network (loopback, private and link-local addresses are refused).
    allow_private_sources: bool = False
    max_download_bytes: int = Field(default=4 * 1024**3, gt=0)

    # Workers (see pipeline/leases.py): a claimed stage lapses this long after its last
    # heartbeat; queued work not taken this long is checked against the broker's records
    # (pipeline/queued.py), sent again if its message was lost, and checked again as often;
    # a stage taken this many times without finishing is failed; the recovery sweep runs
    # this often.
    lease_seconds: float = Field(default=300.0, gt=0)
    requeue_after_seconds: float = Field(default=30.0, gt=0)
    max_deliveries: int = Field(default=5, ge=1)
    recovery_interval_seconds: float = Field(default=60.0, gt=0)
    # The hard limit of one stage task; the soft limit and the broker's visibility timeout
    # are derived from it.
    task_time_limit_seconds: int = Field(default=2 * 60 * 60, ge=60)
    task_max_retries: int = Field(default=8, ge=0)
    # The backoff between those retries (see pipeline/retries.py): the first waits 2.5-5 s,
    # each next one up to twice as long, none over the cap; with the defaults the 8 retries
    # span 7.6 to 15.3 minutes.
    retry_backoff_seconds: float = Field(default=5.0, gt=0)
    retry_backoff_max_seconds: float = Field(default=5 * 60.0, gt=0)

    # Unset: the HTTP upload hook refuses every request.
    hook_secret: SecretStr | None = None
    hook_max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    # A request head not wholly received this long after the connection opened (or the
    # previous response ended) closes the connection; a body not wholly received this long
    # after its head is refused (408). A client trickling bytes must not hold a connection.
    hook_read_timeout_seconds: float = Field(default=10.0, gt=0)
    # Unset: the read endpoints (GET /conversations/{id}) refuse every request.
    api_token: SecretStr | None = None

    # Unset: graph events wait in the outbox (nothing is lost; `minutes graph sync` or the
    # workers push them once it is set).
    neo4j_uri: str | None = Field(default=None, description="e.g. bolt://127.0.0.1:7687")
    neo4j_user: str = "neo4j"
    # Unset: connect without authentication (the local development Neo4j has none).
    neo4j_password: SecretStr | None = None
    # Unset: the server's default database.
    neo4j_database: str | None = None
    graph_sync_interval_seconds: float = Field(default=60.0, gt=0)
    # Meetings written to Neo4j per transaction.
    graph_batch_size: int = Field(default=200, ge=1, le=5000)
    # How long a graph write keeps retrying while Neo4j is away or busy before the sync
    # gives up for now (its events stay pending).
    graph_retry_seconds: float = Field(default=15.0, gt=0)

    # prometheus-client's multiprocess mode (pipeline/metrics.py): the folder where every
    # process of this machine writes its samples, and /metrics reads them. prometheus-client
    # reads the same variable itself. Unset: each process serves only its own.
    prometheus_multiproc_dir: Path | None = None

    # Notes by email. Unset: each delivery is recorded as skipped. smtp://, smtps:// (TLS
    # from the first byte) or smtp+starttls://, with user and password percent-encoded:
    # smtp+starttls://user:p%40ss@mail.example.org:587.
    smtp_url: SecretStr | None = None
    # TLS certificates are checked against the system's CAs; this file's CAs (PEM) are
    # trusted as well (a company's own mail server).
    smtp_ca_file: Path | None = None
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    email_from: str | None = None
    # Who gets every meeting's notes besides its participants that have an email.
    email_to: Annotated[list[str], NoDecode] = []

    @field_validator(
        "transcription_providers", "synthesis_provider", "audio_roots", "email_to", mode="before"
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("transcription_providers", "synthesis_provider")
    @classmethod
    def _at_least_one_provider(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one provider")
        return value

    @model_validator(mode="after")
    def _usable_smtp_server(self) -> Settings:
        # Refused at start-up rather than failing every delivery later.
        if self.smtp_url is None:
            return self
        try:
            SmtpServer.parse(self.smtp_url.get_secret_value())
        except EmailAddressError as error:
            raise ValueError(str(error)) from None
        if not self.email_from:
            raise ValueError("SMTP_URL is set: set EMAIL_FROM, the notes' sender, too")
        return self

    @field_validator("transcription_providers")
    @classmethod
    def _each_transcription_provider_once(cls, value: list[str]) -> list[str]:
        # A provider twice would be tried twice on one recording.
        if len(set(value)) < len(value):
            raise ValueError("name each provider once")
        return value

    @property
    def models_dir(self) -> Path:
        """MODEL_CACHE_DIR, or the user's cache folder for minutes."""
        if self.model_cache_dir is not None:
            return self.model_cache_dir
        return (self.xdg_cache_home or Path.home() / ".cache") / "minutes"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
