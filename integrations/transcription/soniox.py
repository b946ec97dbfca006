"""Transcription by Soniox's asynchronous file API.

The recording is uploaded (`POST /v1/files`), a transcription of it created
(`POST /v1/transcriptions`, speakers and languages asked for), polled until it is
`completed` (`GET /v1/transcriptions/{id}`), and its tokens fetched
(`GET /v1/transcriptions/{id}/transcript`); the transcription and the file are deleted
afterwards, whatever happened, so the account's file quota does not fill up.

Soniox's tokens are pieces of words with times in milliseconds, a speaker label and a
language each: a token that begins with a space begins a word; a segment ends at a
sentence's end, a change of speaker or a long pause.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from integrations.audio import check_audio
from integrations.http import ServiceClient
from integrations.transcription.base import (
    NoSpeechError,
    TranscribedSegment,
    Transcript,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
    UnreadableMediaError,
    Word,
)
from integrations.transcription.local import build_prompt

log = logging.getLogger(__name__)

PROVIDER = "soniox"
DEFAULT_BASE_URL = "https://api.soniox.com"
DEFAULT_MODEL = "stt-async-v4"

# The job states Soniox documents; older documentation calls the failed one "failed".
_DONE = "completed"
_FAILED = ("error", "failed")
# A failed job whose error_type says the audio itself could not be read: every provider
# would fail on it, so it is the recording's fault. Anything else hands over.
_MEDIA_ERROR_WORDS = ("audio", "decod", "media", "format")
_SENTENCE_END = (".", "?", "!")
# A pause this long ends a segment even without punctuation.
_SEGMENT_PAUSE_S = 1.5


_Reply = TypeVar("_Reply", bound=BaseModel)


class _Uploaded(BaseModel):
    id: str


class _Job(BaseModel):
    id: str
    status: str
    audio_duration_ms: int | None = None
    error_type: str | None = None
    error_message: str | None = None


class _Token(BaseModel):
    text: str
    start_ms: int
    end_ms: int
    confidence: float | None = None
    speaker: str | None = None
    language: str | None = None


class _TranscriptReply(BaseModel):
    tokens: list[_Token]


class SonioxTranscriber:
    """Transcribes recordings with Soniox. One per process: it owns an HTTP client."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        model: str = DEFAULT_MODEL,
        timeout_seconds: float = 60.0,
        max_wait_seconds: float = 3600.0,
        poll_seconds: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`timeout_seconds` bounds each request (an upload too); `max_wait_seconds` how long
        a job may stay queued or processing before Soniox counts as away."""
        if not api_key:
            # Named without its key is a mistake in the settings: refused at start-up.
            raise TranscriptionRefusedError("SONIOX_API_KEY is not set")
        self.model_name = model
        self._max_wait_seconds = max_wait_seconds
        self._poll_seconds = poll_seconds
        self._service = ServiceClient(
            base_url=base_url,
            api_key=api_key,
            key_setting="SONIOX_API_KEY",
            url_setting="SONIOX_BASE_URL",
            timeout_seconds=timeout_seconds,
            refused=TranscriptionRefusedError,
            unavailable=TranscriptionUnavailableError,
            transport=transport,
        )

    def close(self) -> None:
        self._service.close()

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        language: str | None = None,
        speech: Sequence[tuple[float, float]] | None = None,  # the service finds its own
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        # A file that is no audio fails here, the recording's fault, before any upload.
        check_audio(path)
        file_id = self._upload(path)
        try:
            job = self._create(file_id, build_prompt(title, participants), language)
            try:
                finished = self._wait(job, path)
                tokens = self._tokens(job.id)
            finally:
                self._delete(f"/v1/transcriptions/{job.id}")
        finally:
            self._delete(f"/v1/files/{file_id}")
        if on_progress is not None:
            on_progress(1.0)
        return self._transcript(path, tokens, finished, language)

    def _upload(self, path: Path) -> str:
        with path.open("rb") as audio:
            response = self._service.request(
                "POST", "/v1/files", files={"file": (path.name, audio)}
            )
        return self._read(response, _Uploaded).id

    def _create(self, file_id: str, context: str | None, language: str | None) -> _Job:
        body: dict[str, object] = {
            "model": self.model_name,
            "file_id": file_id,
            "enable_speaker_diarization": True,
            "enable_language_identification": True,
        }
        if language:
            body["language_hints"] = [language]
        if context:
            body["context"] = context
        return self._read(self._service.request("POST", "/v1/transcriptions", json=body), _Job)

    def _wait(self, job: _Job, path: Path) -> _Job:
        # Soniox reports no progress while it works: the stage's progress stays put.
        deadline = time.monotonic() + self._max_wait_seconds
        while job.status != _DONE:
            if job.status in _FAILED:
                raise self._failure(job, path)
            if time.monotonic() > deadline:
                raise TranscriptionUnavailableError(
                    f"{self._service.shown_url}: transcription still {job.status} after "
                    f"{self._max_wait_seconds:g} s"
                )
            time.sleep(self._poll_seconds)
            job = self._read(self._service.request("GET", f"/v1/transcriptions/{job.id}"), _Job)
        return job

    def _failure(self, job: _Job, path: Path) -> Exception:
        kind = (job.error_type or "").lower()
        message = " ".join((job.error_message or kind or "no reason given").split())[:300]
        if any(word in kind for word in _MEDIA_ERROR_WORDS):
            return UnreadableMediaError(f"{path.name}: Soniox could not read it ({message})")
        return TranscriptionUnavailableError(
            f"{self._service.shown_url}: transcription failed ({message})"
        )

    def _tokens(self, job_id: str) -> list[_Token]:
        response = self._service.request("GET", f"/v1/transcriptions/{job_id}/transcript")
        return self._read(response, _TranscriptReply).tokens

    def _delete(self, path: str) -> None:
        # Cleaning up must not hide the transcript or the error that came before it.
        try:
            self._service.client.delete(path)
        except httpx.HTTPError as error:
            log.warning("could not delete %s from Soniox: %s", path, type(error).__name__)

    def _read(self, response: httpx.Response, shape: type[_Reply]) -> _Reply:
        self._service.check(response)
        try:
            return shape.model_validate_json(response.content)
        except ValidationError:
            raise TranscriptionUnavailableError(
                f"{self._service.shown_url}: HTTP {response.status_code} with a reply that "
                f"is not the one Soniox documents for {response.request.url.path}"
            ) from None

    def _transcript(
        self, path: Path, tokens: Sequence[_Token], job: _Job, language: str | None
    ) -> Transcript:
        segments = _segments(tokens)
        if not segments:
            raise NoSpeechError(f"{path.name}: no speech found")
        last_end = segments[-1].end
        duration = job.audio_duration_ms / 1000 if job.audio_duration_ms else last_end
        return Transcript(
            segments=segments,
            language=_main_language(tokens) or language or "und",
            duration=max(duration, last_end),
            provider=PROVIDER,
            model=self.model_name,
        )


def _main_language(tokens: Sequence[_Token]) -> str | None:
    """The language most of the text is in."""
    spoken: Counter[str] = Counter()
    for token in tokens:
        if token.language:
            spoken[token.language] += len(token.text.strip())
    return spoken.most_common(1)[0][0] if spoken else None


def _words(tokens: Sequence[_Token]) -> list[tuple[Word, str | None]]:
    """Whole words with their speaker: a token that begins with a space begins a word."""
    words: list[tuple[Word, str | None]] = []
    for token in tokens:
        if not token.text.strip():
            continue
        start, end = token.start_ms / 1000, max(token.end_ms, token.start_ms) / 1000
        speaker = f"Speaker {token.speaker}" if token.speaker else None
        if words and not token.text[0].isspace() and words[-1][1] == speaker:
            word, owner = words[-1]
            words[-1] = (Word(word.text + token.text, word.start, end, word.probability), owner)
            continue
        words.append((Word(token.text.strip(), start, end, token.confidence), speaker))
    return words


def _segments(tokens: Sequence[_Token]) -> tuple[TranscribedSegment, ...]:
    groups: list[list[tuple[Word, str | None]]] = [[]]
    for word, speaker in _words(tokens):
        current = groups[-1]
        if current and (
            speaker != current[-1][1]
            or word.start - current[-1][0].end >= _SEGMENT_PAUSE_S
            or current[-1][0].text.endswith(_SENTENCE_END)
        ):
            groups.append(current := [])
        current.append((word, speaker))
    return tuple(
        TranscribedSegment(
            start=group[0][0].start,
            end=group[-1][0].end,
            text=" ".join(word.text for word, _ in group),
            speaker=group[0][1],
            words=tuple(word for word, _ in group),
        )
        for group in groups
        if group
    )
