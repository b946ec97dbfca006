"""Soniox's asynchronous file API against recorded HTTP exchanges, shaped as its API
reference documents them: POST /v1/files, POST /v1/transcriptions, GET
/v1/transcriptions/{id} until "completed", GET /v1/transcriptions/{id}/transcript, and the
deletes after; errors as its ApiError body ({status_code, error_type, message, ...})."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from integrations.transcription.base import (
    NoSpeechError,
    TranscriptionRefusedError,
    TranscriptionUnavailableError,
    UnreadableMediaError,
)
from integrations.transcription.soniox import SonioxTranscriber

BASE_URL = "http://127.0.0.1:8091"
API_KEY = "soniox-test-7d2e91c4"
FILE_ID = "84c32fc6-4fb5-4e7a-b656-b5ec70493753"
JOB_ID = "73d4357d-cad2-4338-a60d-ec6f2044f721"
JOB_URL = f"{BASE_URL}/v1/transcriptions/{JOB_ID}"


def job(status: str, **values: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "status": status,
        "created_at": "2026-11-26T10:00:00Z",
        "model": "stt-async-v4",
        "file_id": FILE_ID,
        "filename": "jfk.flac",
        "enable_speaker_diarization": True,
        "enable_language_identification": True,
        "audio_duration_ms": None if status == "queued" else 11000,
        "error_type": None,
        "error_message": None,
        **values,
    }


def token(text: str, start_ms: int, end_ms: int, speaker: str = "1") -> dict[str, Any]:
    return {
        "text": text,
        "start_ms": start_ms,
        "end_ms": end_ms,
        "confidence": 0.97,
        "speaker": speaker,
        "language": "en",
    }


TOKENS = [
    token("And", 300, 480),
    token(" so", 520, 700),
    token(" my", 760, 900),
    token(" fel", 950, 1100),
    token("low", 1100, 1250),
    token(" Amer", 1300, 1600),
    token("icans", 1600, 1900),
    token(",", 1900, 1910),
    token(" ask", 3500, 3700),
    token(" not", 3750, 3900),
    token(".", 3900, 3910),
    token(" Ask", 5000, 5300, speaker="2"),
    token(" what", 5350, 5600, speaker="2"),
    token(" you", 5650, 5800, speaker="2"),
    token(" can", 5850, 6100, speaker="2"),
    token(" do", 6150, 6400, speaker="2"),
    token(".", 6400, 6410, speaker="2"),
]


def api_error(status: int, error_type: str, message: str) -> httpx.Response:
    return httpx.Response(
        status,
        json={
            "status_code": status,
            "error_type": error_type,
            "message": message,
            "validation_errors": [],
            "request_id": "3d37a3bd-5078-47ee-a369-b204e3bbedda",
        },
    )


@pytest.fixture
def recording(corpus: Path) -> Path:
    return corpus / "speech" / "jfk.flac"


@pytest.fixture
def soniox() -> Iterator[SonioxTranscriber]:
    transcriber = SonioxTranscriber(api_key=API_KEY, base_url=BASE_URL, poll_seconds=0)
    yield transcriber
    transcriber.close()


@pytest.fixture
def service() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        router.post("/v1/files", name="upload").respond(
            201,
            json={
                "id": FILE_ID,
                "filename": "jfk.flac",
                "size": 1152693,
                "created_at": "2026-11-26T10:00:00Z",
            },
        )
        router.post("/v1/transcriptions", name="create").respond(201, json=job("queued"))
        router.get(f"/v1/transcriptions/{JOB_ID}", name="poll").respond(200, json=job("completed"))
        router.get(f"/v1/transcriptions/{JOB_ID}/transcript", name="tokens").respond(
            200, json={"id": JOB_ID, "text": "".join(t["text"] for t in TOKENS), "tokens": TOKENS}
        )
        router.delete(f"/v1/transcriptions/{JOB_ID}", name="delete_job").respond(204)
        router.delete(f"/v1/files/{FILE_ID}", name="delete_file").respond(204)
        yield router


class TestSonioxTranscriber:
    def test_polls_until_completed_and_reads_words_speakers_and_language(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["poll"].side_effect = [
            httpx.Response(200, json=job("queued")),
            httpx.Response(200, json=job("processing")),
            httpx.Response(200, json=job("completed")),
        ]

        transcript = soniox.transcribe(
            recording, title="Inaugural address", participants=["John Kennedy"]
        )

        assert service.routes["poll"].call_count == 3
        assert [(s.text, s.speaker) for s in transcript.segments] == [
            ("And so my fellow Americans,", "Speaker 1"),
            ("ask not.", "Speaker 1"),  # after a pause of 1.6 s
            ("Ask what you can do.", "Speaker 2"),
        ]
        first = transcript.segments[0]
        assert [(w.text, w.start, w.end) for w in first.words][3:] == [
            ("fellow", 0.95, 1.25),
            ("Americans,", 1.3, 1.91),
        ]
        assert (transcript.language, transcript.duration) == ("en", 11.0)
        assert (transcript.provider, transcript.model) == ("soniox", "stt-async-v4")
        created = json.loads(service.routes["create"].calls.last.request.content)
        assert created["file_id"] == FILE_ID
        assert created["enable_speaker_diarization"] is True
        assert "John Kennedy" in created["context"]
        upload = service.routes["upload"].calls.last.request
        assert upload.headers["Authorization"] == f"Bearer {API_KEY}"
        # Nothing left behind in the account.
        assert service.routes["delete_job"].called
        assert service.routes["delete_file"].called

    def test_a_language_given_is_a_hint(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        soniox.transcribe(recording, language="en")

        created = json.loads(service.routes["create"].calls.last.request.content)
        assert created["language_hints"] == ["en"]

    def test_a_refused_key_refuses_us_without_showing_the_key(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["upload"].return_value = api_error(
            401, "unauthenticated", f"Incorrect API key provided: {API_KEY}"
        )

        with pytest.raises(TranscriptionRefusedError, match="SONIOX_API_KEY") as raised:
            soniox.transcribe(recording)

        assert API_KEY not in str(raised.value)
        assert not service.routes["create"].called

    def test_rate_limited_is_away_for_now_and_cleans_up(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["create"].return_value = httpx.Response(
            429,
            headers={"Retry-After": "30"},
            json={
                "status_code": 429,
                "error_type": "rate_limit_exceeded",
                "message": "Too many pending transcriptions.",
                "validation_errors": [],
                "request_id": "9b1e",
            },
        )

        with pytest.raises(TranscriptionUnavailableError, match="429") as raised:
            soniox.transcribe(recording)

        assert raised.value.retry_after == 30.0
        assert service.routes["delete_file"].called

    def test_a_server_error_while_polling_is_away_for_now_and_cleans_up(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["poll"].side_effect = [
            httpx.Response(200, json=job("processing")),
            api_error(503, "service_unavailable", "The service is temporarily unavailable."),
        ]

        with pytest.raises(TranscriptionUnavailableError, match="HTTP 503"):
            soniox.transcribe(recording)

        assert service.routes["delete_job"].called
        assert service.routes["delete_file"].called

    def test_an_unreachable_service_is_away_for_now(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["upload"].side_effect = httpx.ConnectError("connection refused")

        with pytest.raises(TranscriptionUnavailableError, match="request failed"):
            soniox.transcribe(recording)

    @pytest.mark.parametrize(
        "reply",
        [
            httpx.Response(200, text="<html><body>Bad gateway</body></html>"),
            httpx.Response(200, json={"id": JOB_ID, "text": "And so"}),  # no tokens
            httpx.Response(200, json={"id": JOB_ID, "tokens": [{"text": "And"}]}),  # no times
        ],
    )
    def test_a_malformed_reply_is_away_for_now(
        self,
        soniox: SonioxTranscriber,
        service: respx.MockRouter,
        recording: Path,
        reply: httpx.Response,
    ) -> None:
        service.routes["tokens"].return_value = reply

        with pytest.raises(TranscriptionUnavailableError, match="not the"):
            soniox.transcribe(recording)

    def test_a_job_that_could_not_read_the_audio_is_the_recordings_fault(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["poll"].return_value = httpx.Response(
            200,
            json=job(
                "error",
                error_type="audio_decode_error",
                error_message="Audio data could not be decoded.",
            ),
        )

        with pytest.raises(UnreadableMediaError, match="could not be decoded"):
            soniox.transcribe(recording)

    def test_a_job_that_failed_otherwise_is_away_for_now(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["poll"].return_value = httpx.Response(
            200, json=job("error", error_type="internal_error", error_message="Try again.")
        )

        with pytest.raises(TranscriptionUnavailableError, match="Try again"):
            soniox.transcribe(recording)

    def test_no_tokens_is_no_speech(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, recording: Path
    ) -> None:
        service.routes["tokens"].return_value = httpx.Response(
            200, json={"id": JOB_ID, "text": "", "tokens": []}
        )

        with pytest.raises(NoSpeechError):
            soniox.transcribe(recording)

    def test_a_file_that_is_no_audio_fails_before_any_upload(
        self, soniox: SonioxTranscriber, service: respx.MockRouter, tmp_path: Path
    ) -> None:
        notes = tmp_path / "minutes.wav"
        notes.write_text("not audio at all")

        with pytest.raises(UnreadableMediaError):
            soniox.transcribe(notes)

        assert not service.routes["upload"].called

    def test_named_without_a_key_is_refused_at_start(self) -> None:
        with pytest.raises(TranscriptionRefusedError, match="SONIOX_API_KEY is not set"):
            SonioxTranscriber(api_key=None, base_url=BASE_URL)
