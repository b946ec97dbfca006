"""The OpenAI-compatible transcription provider against a real local server
(faster-whisper-server on the bundled tiny.en model, tests/whisper_server.py), and against
recorded exchanges for what that server cannot be made to show: uploads too large (413),
rate limits and spent quotas (429), refused keys, files the service cannot read, and
OpenAI's own reply (language names, word timestamps).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jiwer
import numpy as np
import pytest
import respx
from whisper_normalizer.english import EnglishTextNormalizer

from integrations.transcription.base import (
    NoSpeechError,
    Transcript,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
    UnreadableMediaError,
)
from integrations.transcription.openai import OpenAITranscriber
from tests.audio import SAMPLE_RATE, write_wav
from tests.whisper_server import WhisperServerError, running_whisper_server

JFK_TEXT = (
    "And so my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
MAX_WER = 0.15
RECORDED_URL = "http://127.0.0.1:8092/v1"
API_KEY = "sk-test-0b6f3e2a9c71"
MIN_UPLOAD = 256 * 1024


def word_error_rate(transcript: Transcript) -> float:
    normalize = EnglishTextNormalizer()
    hypothesis = " ".join(segment.text for segment in transcript.segments)
    return float(jiwer.wer(normalize(JFK_TEXT), normalize(hypothesis)))


class CountingTransport(httpx.HTTPTransport):
    """The real transport, counting the requests it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def whisper_server() -> Iterator[str]:
    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(running_whisper_server())
        except WhisperServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield base_url


@pytest.fixture
def jfk(corpus: Path) -> Path:
    return corpus / "speech" / "jfk.flac"


class TestAgainstALocalServer:
    def test_transcribes_a_recording(self, whisper_server: str, jfk: Path) -> None:
        with contextlib.closing(OpenAITranscriber(base_url=whisper_server)) as transcriber:
            transcript = transcriber.transcribe(jfk, title="Inaugural address")

        assert word_error_rate(transcript) <= MAX_WER
        assert (transcript.provider, transcript.model, transcript.language) == (
            "openai",
            "whisper-1",
            "en",
        )
        assert transcript.duration == pytest.approx(11.0, abs=0.1)
        starts = [segment.start for segment in transcript.segments]
        assert starts == sorted(starts)

    def test_a_recording_over_the_upload_limit_goes_in_pieces_at_its_times(
        self, whisper_server: str, jfk: Path
    ) -> None:
        # 11 s are 352 kB as WAV: two pieces of at most 256 kB (8 s).
        transport = CountingTransport()
        with contextlib.closing(
            OpenAITranscriber(
                base_url=whisper_server, max_upload_bytes=MIN_UPLOAD, transport=transport
            )
        ) as transcriber:
            transcript = transcriber.transcribe(jfk)

        assert len(transport.requests) == 2
        # The WAV piece within the limit, the form's other fields around it.
        sizes = [int(request.headers["Content-Length"]) for request in transport.requests]
        assert all(size <= MIN_UPLOAD + 1024 for size in sizes)
        # Cut at a pause, the words of both pieces are there, the second piece's late.
        assert word_error_rate(transcript) <= MAX_WER
        assert transcript.segments[-1].end > 8.0
        assert transcript.duration == pytest.approx(11.0, abs=0.1)
        ends = [segment.end for segment in transcript.segments]
        assert ends == sorted(ends)

    def test_a_file_that_is_no_audio_is_the_recordings_fault(
        self, whisper_server: str, tmp_path: Path
    ) -> None:
        # This server answers such a file with a bare 500: the file is checked first, so a
        # broken recording never passes for a server that is down.
        broken = tmp_path / "meeting.m4a"
        broken.write_bytes(b"\x00\x01 not a recording")
        with (
            contextlib.closing(OpenAITranscriber(base_url=whisper_server)) as transcriber,
            pytest.raises(UnreadableMediaError),
        ):
            transcriber.transcribe(broken)


def verbose_json(text: str, start: float, end: float, **values: Any) -> dict[str, Any]:
    """A reply as OpenAI writes it: the language by name, words and segments."""
    words = text.split()
    step = (end - start) / len(words)
    return {
        "task": "transcribe",
        "language": "english",
        "duration": end,
        "text": text,
        "words": [
            {"word": word, "start": start + i * step, "end": start + (i + 1) * step}
            for i, word in enumerate(words)
        ],
        "segments": [
            {
                "id": 0,
                "seek": 0,
                "start": start,
                "end": end,
                "text": f" {text}",
                "tokens": [50364],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
        ],
        **values,
    }


def openai_error(status: int, message: str, type_: str, code: str | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"error": {"message": message, "type": type_, "param": None, "code": code}}
    )


@pytest.fixture
def recorded() -> Iterator[OpenAITranscriber]:
    transcriber = OpenAITranscriber(base_url=RECORDED_URL, api_key=API_KEY)
    yield transcriber
    transcriber.close()


@pytest.fixture
def forty_seconds(tmp_path: Path) -> Path:
    """40 s of tone (1.28 MB as WAV) with pauses from 15 to 16 s and from 30 to 31 s."""
    seconds = np.arange(40 * SAMPLE_RATE) / SAMPLE_RATE
    tone = (10_000 * np.sin(2 * np.pi * 220 * seconds)).astype(np.int16)
    tone[15 * SAMPLE_RATE : 16 * SAMPLE_RATE] = 0.0
    tone[30 * SAMPLE_RATE : 31 * SAMPLE_RATE] = 0.0
    return write_wav(tmp_path / "meeting.wav", tone)


class TestRecordedExchanges:
    def test_reads_openais_reply(self, recorded: OpenAITranscriber, jfk: Path) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            route = service.post("/audio/transcriptions").respond(
                200, json=verbose_json("Ask not what your country can do.", 0.5, 3.0)
            )
            transcript = recorded.transcribe(jfk, participants=["John Kennedy"], language="en")

        assert transcript.language == "en"  # "english" in the reply
        [segment] = transcript.segments
        assert segment.text == "Ask not what your country can do."
        assert [w.text for w in segment.words][:2] == ["Ask", "not"]
        request = route.calls.last.request
        assert request.headers["Authorization"] == f"Bearer {API_KEY}"
        body = request.content.decode(errors="replace")
        for field in ("verbose_json", '"timestamp_granularities[]"\r\n\r\nword', "segment"):
            assert field in body
        assert "John Kennedy" in body

    def test_413_splits_the_recording_and_shifts_the_pieces_times(
        self, recorded: OpenAITranscriber, forty_seconds: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            route = service.post("/audio/transcriptions")
            route.side_effect = [
                openai_error(
                    413,
                    "Maximum content size limit (1048576) exceeded.",
                    "invalid_request_error",
                ),
                httpx.Response(200, json=verbose_json("First part.", 1.0, 3.0)),
                httpx.Response(200, json=verbose_json("Second part.", 1.0, 3.0)),
                httpx.Response(200, json=verbose_json("Third part.", 1.0, 3.0)),
            ]
            transcript = recorded.transcribe(forty_seconds)

        # Refused whole, then in pieces of at most half of it (20 s), each cut in a pause.
        assert route.call_count == 4
        first, second, third = transcript.segments
        assert (first.text, first.start) == ("First part.", 1.0)
        assert second.text == "Second part."
        assert 16.0 <= second.start <= 17.0
        assert all(word.start >= 16.0 for word in second.words)
        assert third.text == "Third part."
        assert 31.0 <= third.start <= 32.0
        assert transcript.duration == pytest.approx(40.0)

    def test_429_is_away_for_now(self, recorded: OpenAITranscriber, jfk: Path) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").mock(
                return_value=httpx.Response(
                    429,
                    headers={"Retry-After": "20"},
                    json={
                        "error": {
                            "message": "Rate limit reached for whisper-1 on requests per min.",
                            "type": "requests",
                            "param": None,
                            "code": "rate_limit_exceeded",
                        }
                    },
                )
            )
            with pytest.raises(TranscriptionUnavailableError, match="429") as raised:
                recorded.transcribe(jfk)

        assert raised.value.retry_after == 20.0

    def test_a_spent_quota_refuses_us(self, recorded: OpenAITranscriber, jfk: Path) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").mock(
                return_value=openai_error(
                    429,
                    "You exceeded your current quota, please check your plan and billing details.",
                    "insufficient_quota",
                    "insufficient_quota",
                )
            )
            with pytest.raises(TranscriptionRefusedError, match="quota"):
                recorded.transcribe(jfk)

    def test_a_refused_key_refuses_us_without_showing_it(
        self, recorded: OpenAITranscriber, jfk: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").mock(
                return_value=openai_error(
                    401, f"Incorrect API key provided: {API_KEY}.", "invalid_request_error"
                )
            )
            with pytest.raises(TranscriptionRefusedError, match="TRANSCRIPTION_API_KEY") as raised:
                recorded.transcribe(jfk)

        assert API_KEY not in str(raised.value)

    def test_a_file_the_service_cannot_read_is_the_recordings_fault(
        self, recorded: OpenAITranscriber, jfk: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").mock(
                return_value=openai_error(
                    400,
                    "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'wav']",
                    "invalid_request_error",
                )
            )
            with pytest.raises(UnreadableMediaError, match="Invalid file format"):
                recorded.transcribe(jfk)

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_a_server_error_is_away_for_now(
        self, recorded: OpenAITranscriber, jfk: Path, status: int
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").respond(status, text="upstream failed")
            with pytest.raises(TranscriptionUnavailableError, match=f"HTTP {status}"):
                recorded.transcribe(jfk)

    def test_a_reply_without_text_is_no_speech(
        self, recorded: OpenAITranscriber, jfk: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").respond(
                200,
                json={"task": "transcribe", "language": "english", "duration": 3.0, "text": ""},
            )
            with pytest.raises(NoSpeechError):
                recorded.transcribe(jfk)

    def test_a_reply_that_is_no_transcription_is_away_for_now(
        self, recorded: OpenAITranscriber, jfk: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            service.post("/audio/transcriptions").respond(200, json={"segments": "nope"})
            with pytest.raises(TranscriptionUnavailableError, match="verbose_json"):
                recorded.transcribe(jfk)

    def test_request_body_is_multipart_with_the_model(
        self, recorded: OpenAITranscriber, jfk: Path
    ) -> None:
        with respx.mock(base_url=RECORDED_URL) as service:
            route = service.post("/audio/transcriptions").respond(
                200, json=verbose_json("Hello there.", 0.0, 1.0)
            )
            recorded.transcribe(jfk)

        request = route.calls.last.request
        assert request.headers["Content-Type"].startswith("multipart/form-data")
        assert 'name="model"\r\n\r\nwhisper-1' in request.content.decode(errors="replace")
