"""Transcription by any OpenAI-compatible `/audio/transcriptions` endpoint: OpenAI, Groq, a
faster-whisper or vLLM server.

The recording goes up as it is when it fits the service's upload limit (OpenAI's is
25 MB). A larger one, or one the service answers 413 to, is decoded here and cut into
pieces that fit, each cut at the quietest moment before the limit so no word is split,
sent as 16 kHz mono WAV; the pieces' times are shifted back to the recording's.

`verbose_json` with word and segment timestamps is asked for; a server that gives segments
without words (some do) still gives a usable transcript.
"""

from __future__ import annotations

import io
import re
import wave
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pycountry
from pydantic import BaseModel, ValidationError

from integrations.audio import SAMPLE_RATE, Samples, check_audio, decode_file
from integrations.http import ServiceClient
from integrations.transcription.base import (
    NoSpeechError,
    TranscribedSegment,
    Transcript,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
    UnreadableMediaError,
    Word,
    retimed,
)
from integrations.transcription.local import build_prompt

PROVIDER = "openai"
DEFAULT_MODEL = "whisper-1"
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024

# How services word "this file is not audio we can read" (OpenAI: "Invalid file format",
# "could not be decoded", "Audio file is too short"; faster-whisper and vLLM servers pass on
# their decoder's words).
_MEDIA_WORDING = re.compile(
    r"file format|not a valid (audio|media)|could not (be )?decode|corrupt|unsupported "
    r"(audio|file|media)|audio file is too short|invalid (audio|media)",
    re.I,
)
_QUOTA_WORDING = re.compile(r"quota|billing|insufficient", re.I)
_WAV_HEADER_BYTES = 44
_BYTES_PER_SECOND = SAMPLE_RATE * 2  # 16-bit mono
# A cut is placed at the quietest 100 ms in the last stretch of a piece, this long.
_CUT_SEARCH_S = 30.0
_FRAME_S = 0.1
# Below this a service that still answers 413 is refusing uploads, not sizes.
_MIN_PIECE_BYTES = 256 * 1024


class _TooLargeError(Exception):
    """The service answered 413: send smaller pieces."""


class _WordReply(BaseModel):
    word: str
    start: float
    end: float


class _SegmentReply(BaseModel):
    start: float
    end: float
    text: str


class _VerboseReply(BaseModel):
    text: str = ""
    language: str | None = None
    duration: float | None = None
    segments: list[_SegmentReply] | None = None
    words: list[_WordReply] | None = None


@dataclass(frozen=True, slots=True)
class _Part:
    """What one upload gave back, in its own time."""

    segments: tuple[TranscribedSegment, ...]
    language: str | None
    duration: float | None


class OpenAITranscriber:
    """Transcribes recordings with an OpenAI-compatible service. One per process: it owns
    an HTTP client."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        model: str = DEFAULT_MODEL,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        timeout_seconds: float = 600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_upload_bytes < _MIN_PIECE_BYTES:
            raise TranscriptionRefusedError(
                f"TRANSCRIPTION_MAX_UPLOAD_BYTES must be at least {_MIN_PIECE_BYTES}"
            )
        self.model_name = model
        self._max_upload_bytes = max_upload_bytes
        self._service = ServiceClient(
            base_url=base_url,
            api_key=api_key,
            key_setting="TRANSCRIPTION_API_KEY",
            url_setting="TRANSCRIPTION_BASE_URL",
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
        # A file that is no audio fails here, the recording's fault, before any upload: a
        # server that answers it with a 500 must not look like a server that is down.
        check_audio(path)
        prompt = build_prompt(title, participants)
        report = on_progress or (lambda fraction: None)
        size = path.stat().st_size
        if size <= self._max_upload_bytes:
            try:
                with path.open("rb") as upload:
                    part = self._send(path.name, upload, prompt, language)
            except _TooLargeError:
                pass
            else:
                report(1.0)
                return self._transcript(path, part.segments, part.language, part.duration)
        audio = decode_file(path)
        limit = min(size // 2, self._max_upload_bytes)
        segments, languages = self._pieces(path, audio, 0, limit, prompt, language, report)
        common = Counter(languages).most_common(1)
        report(1.0)
        return self._transcript(
            path, tuple(segments), common[0][0] if common else None, len(audio) / SAMPLE_RATE
        )

    def _pieces(
        self,
        path: Path,
        audio: Samples,
        offset: float,
        limit: int,
        prompt: str | None,
        language: str | None,
        report: Callable[[float], None],
    ) -> tuple[list[TranscribedSegment], list[str]]:
        """`audio` (starting `offset` seconds into the recording) sent in pieces of at most
        `limit` bytes; smaller ones wherever the service still answers 413."""
        if limit < _MIN_PIECE_BYTES:
            raise TranscriptionRefusedError(
                f"{self._service.shown_url} refuses even {_MIN_PIECE_BYTES} bytes of audio "
                "(HTTP 413): check TRANSCRIPTION_MAX_UPLOAD_BYTES"
            )
        total = len(audio) / SAMPLE_RATE + offset
        segments: list[TranscribedSegment] = []
        languages: list[str] = []
        for start, end in _cuts(audio, (limit - _WAV_HEADER_BYTES) // _BYTES_PER_SECOND):
            piece = audio[start:end]
            at = offset + start / SAMPLE_RATE
            try:
                part = self._send(f"{path.stem}-{at:.0f}s.wav", _wav(piece), prompt, language)
            except _TooLargeError:
                more, found = self._pieces(path, piece, at, limit // 2, prompt, language, report)
                segments += more
                languages += found
                continue
            segments += [_shifted(segment, at) for segment in part.segments]
            languages += [part.language] if part.language else []
            report((offset + end / SAMPLE_RATE) / total if total else 1.0)
        return segments, languages

    def _send(self, name: str, audio: object, prompt: str | None, language: str | None) -> _Part:
        form: dict[str, str | list[str]] = {
            "model": self.model_name,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
            "temperature": "0",
        }
        if prompt:
            form["prompt"] = prompt
        if language:
            form["language"] = language
        response = self._service.request(
            "POST", "/audio/transcriptions", data=form, files={"file": (name, audio)}
        )
        if response.status_code == 413:
            raise _TooLargeError
        self._service.check(response, own_error=_recording_fault(name))
        try:
            reply = _VerboseReply.model_validate_json(response.content)
        except ValidationError:
            raise TranscriptionUnavailableError(
                f"{self._service.shown_url}: HTTP {response.status_code} without a "
                "verbose_json transcription"
            ) from None
        return _Part(_reply_segments(reply), _language_code(reply.language), reply.duration)

    def _transcript(
        self,
        path: Path,
        segments: tuple[TranscribedSegment, ...],
        language: str | None,
        duration: float | None,
    ) -> Transcript:
        if not segments:
            raise NoSpeechError(f"{path.name}: no speech found")
        last_end = segments[-1].end
        return Transcript(
            segments=segments,
            language=language or "und",
            duration=max(duration or 0.0, last_end),
            provider=PROVIDER,
            model=self.model_name,
        )


def _recording_fault(name: str) -> Callable[[httpx.Response, str], Exception | None]:
    def fault(response: httpx.Response, message: str) -> Exception | None:
        status = response.status_code
        if status in (400, 415, 422) and _MEDIA_WORDING.search(message):
            return UnreadableMediaError(f"{name}: the service could not read it ({message})")
        if status == 429 and _QUOTA_WORDING.search(message):
            # OpenAI's spent quota comes as a 429, yet waiting does not bring it back.
            return TranscriptionRefusedError(f"HTTP 429: {message}: check the account's quota")
        return None

    return fault


def _language_code(value: str | None) -> str | None:
    """ISO 639-1 from what services say: OpenAI writes "english", others "en"."""
    name = (value or "").strip().lower()
    if len(name) <= 2:
        # A code already (looked up, "en" would be the En language).
        return name or None
    try:
        language = pycountry.languages.lookup(name)
    except LookupError:
        return name
    code: str = getattr(language, "alpha_2", None) or language.alpha_3
    return code


def _reply_segments(reply: _VerboseReply) -> tuple[TranscribedSegment, ...]:
    """The reply's segments with the words whose middle falls in each; one segment of the
    whole text when the service gave none."""
    words = [
        Word(w.word.strip(), w.start, max(w.end, w.start))
        for w in reply.words or ()
        if w.word.strip()
    ]
    given = [s for s in reply.segments or () if s.text.strip()]
    if not given and reply.text.strip():
        end = words[-1].end if words else (reply.duration or 0.0)
        given = [_SegmentReply(start=0.0, end=end, text=reply.text)]
    segments = []
    for index, segment in enumerate(given):
        last = index == len(given) - 1
        inside = tuple(
            w
            for w in words
            if segment.start <= (w.start + w.end) / 2
            and ((w.start + w.end) / 2 < segment.end or last)
        )
        segments.append(
            TranscribedSegment(
                start=segment.start,
                end=max(segment.end, segment.start),
                text=segment.text.strip(),
                words=inside,
            )
        )
    return tuple(segments)


def _shifted(segment: TranscribedSegment, seconds: float) -> TranscribedSegment:
    return retimed(segment, lambda time: time + seconds)


def _cuts(audio: Samples, max_seconds: int) -> list[tuple[int, int]]:
    """Sample ranges of at most `max_seconds` covering `audio`, each cut at the quietest
    100 ms of the last stretch before the limit (a pause, where there is one)."""
    longest = max_seconds * SAMPLE_RATE
    frame = int(_FRAME_S * SAMPLE_RATE)
    search = min(int(_CUT_SEARCH_S * SAMPLE_RATE), longest // 2)
    ranges = []
    start = 0
    while len(audio) - start > longest:
        window_start = start + longest - search
        window = audio[window_start : start + longest]
        frames = window[: len(window) // frame * frame].reshape(-1, frame)
        energy = np.sqrt(np.mean(frames**2, axis=1))
        quietest = int(np.argmin(energy))
        # The middle of the quiet stretch around it: a pause's edges touch words.
        quiet = energy <= energy[quietest] * 1.1 + 1e-6
        first = last = quietest
        while first > 0 and quiet[first - 1]:
            first -= 1
        while last < len(quiet) - 1 and quiet[last + 1]:
            last += 1
        cut = window_start + (first + last) // 2 * frame + frame // 2
        ranges.append((start, cut))
        start = cut
    ranges.append((start, len(audio)))
    return ranges


def _wav(audio: Samples) -> bytes:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)
    return buffer.getvalue()
