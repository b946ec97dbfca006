"""TRANSCRIPTION_PROVIDERS as a fallback chain, through the real stage functions on a real
database: the cloud providers answer from recorded exchanges (Soniox's and OpenAI's
documented APIs), `local` is the bundled Whisper.

Each runtime here is built from settings as a worker's is, so the circuits are the ones
every worker shares: the provider_circuits table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import Engine, delete

from integrations.transcription.base import AllProvidersUnavailableError, UnreadableMediaError
from pipeline import stages
from pipeline.config import Settings
from pipeline.intake import create_conversation
from pipeline.providers import build_transcriber
from pipeline.runtime import Runtime
from pipeline.stages import StageOutcome
from repositories.models import Conversation, ConversationStatus, ProviderCircuit
from tests.llm_server import free_port
from tests.pipeline.test_cli import run

Status = ConversationStatus

SONIOX = "http://127.0.0.1:8093"
OPENAI = "http://127.0.0.1:8094/v1"
FILE_ID = "5f0d7c1e-2b7a-4c51-9d8e-0a6b3c2f1e90"
JOB_ID = "0c9e4b1a-7d2f-4e3a-8b6c-5a1d9f0e2c47"


@pytest.fixture
def database(committed_database: tuple[str, Engine]) -> tuple[str, Engine]:
    """The module's database, its circuits closed before each test."""
    url, engine = committed_database
    with engine.begin() as connection:
        connection.execute(delete(ProviderCircuit))
    return url, engine


@pytest.fixture
def recording(corpus: Path) -> Path:
    return corpus / "speech" / "jfk.flac"


def runtime(url: str, recording: Path, providers: str, **values: Any) -> Runtime:
    """A worker's runtime on the database at `url`, reading recordings beside `recording`."""
    settings = Settings(
        database_url=url,
        transcription_providers=providers,
        soniox_api_key="soniox-test-key",
        soniox_base_url=SONIOX,
        transcription_base_url=OPENAI,
        transcription_api_key="sk-test-key",
        diarization="none",
        audio_roots=[recording.parent],
        **values,
    )
    return Runtime(settings)


def new_conversation(runtime: Runtime, source: Path) -> uuid.UUID:
    return create_conversation(runtime.unit_of_work(), source_uri=str(source), title="Address")


def transcribe(runtime: Runtime, conversation_id: uuid.UUID, **options: Any) -> StageOutcome:
    return stages.transcribe(
        conversation_id,
        uow=runtime.unit_of_work(),
        transcriber=runtime.transcriber,
        sources=runtime.sources,
        **options,
    )


def stored(runtime: Runtime, conversation_id: uuid.UUID) -> Conversation:
    with runtime.unit_of_work() as uow:
        return uow.conversations.get(conversation_id)


OPENAI_REPLY = {
    "task": "transcribe",
    "language": "english",
    "duration": 11.0,
    "text": "Ask not what your country can do for you.",
    "segments": [
        {"id": 0, "start": 0.3, "end": 4.0, "text": " Ask not what your country can do for you."}
    ],
}


def unavailable(status: int = 503) -> httpx.Response:
    return httpx.Response(status, json={"error": {"message": "temporarily unavailable"}})


@pytest.fixture
def services() -> Iterator[respx.MockRouter]:
    """Soniox down (503 on upload), the OpenAI-compatible server answering; tests change
    either."""
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{SONIOX}/v1/files", name="soniox").mock(return_value=unavailable())
        router.post(f"{SONIOX}/v1/transcriptions", name="soniox_create").respond(
            201, json={"id": JOB_ID, "status": "queued"}
        )
        router.get(f"{SONIOX}/v1/transcriptions/{JOB_ID}", name="soniox_poll").respond(
            200, json={"id": JOB_ID, "status": "completed"}
        )
        router.delete(url__startswith=SONIOX).respond(204)
        router.post(f"{OPENAI}/audio/transcriptions", name="openai").respond(200, json=OPENAI_REPLY)
        yield router


class TestFallback:
    def test_the_first_provider_down_the_second_writes_and_both_are_recorded(
        self, database: tuple[str, Engine], recording: Path, services: respx.MockRouter
    ) -> None:
        url, _ = database
        worker = runtime(url, recording, "soniox,openai,local")
        conversation_id = new_conversation(worker, recording)

        assert transcribe(worker, conversation_id) is StageOutcome.DONE

        conversation = stored(worker, conversation_id)
        assert conversation.status is Status.SYNTHESIZING
        assert conversation.transcription_provider == "openai"
        assert conversation.language == "en"
        [passed] = conversation.transcription_passed_over or []
        assert passed["provider"] == "soniox"
        assert "HTTP 503" in passed["reason"]
        # Handed over at once: Soniox was asked once, never retried in the same run.
        assert services.routes["soniox"].call_count == 1

        # What `minutes status` shows of it, as text and as JSON.
        status = json.loads(run("status", str(conversation_id), "--json", database_url=url).stdout)
        assert status["transcription_provider"] == "openai"
        assert status["transcription_passed_over"] == [passed]
        human = run("status", str(conversation_id), database_url=url).stdout
        assert "transcription_passed_over" in human
        assert "soniox (" in human
        worker.close()

    def test_all_down_the_task_retries_later_and_completes(
        self, database: tuple[str, Engine], recording: Path, services: respx.MockRouter
    ) -> None:
        url, _ = database
        # No cool-down, so the retry asks both again at once.
        worker = runtime(url, recording, "soniox,openai", transcription_cooldown_seconds=0)
        conversation_id = new_conversation(worker, recording)
        services.routes["openai"].return_value = unavailable(502)

        with pytest.raises(
            AllProvidersUnavailableError, match="no transcription provider"
        ) as raised:
            transcribe(worker, conversation_id, final_attempt=False)

        # Transient: the task's autoretry takes it, with backoff.
        assert isinstance(raised.value, stages.TRANSIENT_ERRORS)
        handed_back = stored(worker, conversation_id)
        assert (handed_back.status, handed_back.error_message) == (Status.TRANSCRIBING, None)

        services.routes["openai"].return_value = httpx.Response(200, json=OPENAI_REPLY)
        assert transcribe(worker, conversation_id) is StageOutcome.DONE
        stages.synthesize(
            conversation_id, uow=worker.unit_of_work(), synthesizer=worker.synthesizer
        )

        completed = stored(worker, conversation_id)
        assert completed.status is Status.COMPLETED
        assert completed.transcription_provider == "openai"
        assert [p["provider"] for p in completed.transcription_passed_over or []] == ["soniox"]
        assert services.routes["soniox"].call_count == 2
        assert services.routes["openai"].call_count == 2
        worker.close()

    def test_a_file_that_is_no_audio_fails_at_once_without_asking_anyone(
        self,
        database: tuple[str, Engine],
        recording: Path,
        services: respx.MockRouter,
        tmp_path: Path,
    ) -> None:
        url, _ = database
        broken = tmp_path / "meeting.wav"
        broken.write_bytes(b"RIFF but nothing a decoder reads")
        worker = runtime(url, broken, "soniox,openai,local")
        conversation_id = new_conversation(worker, broken)

        with pytest.raises(UnreadableMediaError):
            transcribe(worker, conversation_id, final_attempt=False)

        failed = stored(worker, conversation_id)
        assert failed.status is Status.FAILED
        assert "not an audio file" in (failed.error_message or "")
        assert services.routes["soniox"].call_count == 0
        assert services.routes["openai"].call_count == 0
        worker.close()

    def test_a_recording_the_service_cannot_read_fails_once_and_no_one_else_is_asked(
        self, database: tuple[str, Engine], recording: Path, services: respx.MockRouter
    ) -> None:
        url, _ = database
        worker = runtime(url, recording, "soniox,openai,local")
        services.routes["soniox"].return_value = httpx.Response(
            201, json={"id": FILE_ID, "filename": "jfk.flac"}
        )
        services.routes["soniox_poll"].return_value = httpx.Response(
            200,
            json={
                "id": JOB_ID,
                "status": "error",
                "error_type": "audio_decode_error",
                "error_message": "Audio data could not be decoded.",
            },
        )
        conversation_id = new_conversation(worker, recording)

        # Not transient, so not handed back even though retries remain.
        with pytest.raises(UnreadableMediaError, match="could not be decoded"):
            transcribe(worker, conversation_id, final_attempt=False)

        failed = stored(worker, conversation_id)
        assert failed.status is Status.FAILED
        assert "could not be decoded" in (failed.error_message or "")
        assert services.routes["soniox"].call_count == 1
        assert services.routes["openai"].call_count == 0  # nor local: it would have written
        worker.close()

    def test_a_provider_that_failed_is_skipped_by_another_runtime_for_its_cool_down(
        self, database: tuple[str, Engine], recording: Path, services: respx.MockRouter
    ) -> None:
        url, _ = database
        first = runtime(url, recording, "soniox,openai")
        second = runtime(url, recording, "soniox,openai")  # another worker, same database

        assert transcribe(first, new_conversation(first, recording)) is StageOutcome.DONE
        later = new_conversation(second, recording)
        assert transcribe(second, later) is StageOutcome.DONE

        # Soniox was asked by the first worker only; the second passed over it unasked.
        assert services.routes["soniox"].call_count == 1
        [passed] = stored(second, later).transcription_passed_over or []
        assert passed["provider"] == "soniox"
        assert passed["reason"].startswith("cooling down until")
        assert "HTTP 503" in passed["reason"]
        first.close()
        second.close()

    def test_a_provider_that_answers_again_is_asked_again(
        self, database: tuple[str, Engine], recording: Path, services: respx.MockRouter
    ) -> None:
        url, engine = database
        worker = runtime(url, recording, "soniox,openai", transcription_cooldown_seconds=0)
        assert transcribe(worker, new_conversation(worker, recording)) is StageOutcome.DONE
        with engine.connect() as connection:
            assert connection.scalar(ProviderCircuit.__table__.select()) == "soniox"

        services.routes["openai"].return_value = unavailable(503)
        services.routes["soniox"].return_value = httpx.Response(
            201, json={"id": FILE_ID, "filename": "jfk.flac"}
        )
        services.get(f"{SONIOX}/v1/transcriptions/{JOB_ID}/transcript").respond(
            200,
            json={
                "id": JOB_ID,
                "text": "Ask not.",
                "tokens": [
                    {"text": "Ask", "start_ms": 300, "end_ms": 600, "speaker": "1"},
                    {"text": " not.", "start_ms": 650, "end_ms": 900, "speaker": "1"},
                ],
            },
        )
        conversation_id = new_conversation(worker, recording)
        assert transcribe(worker, conversation_id) is StageOutcome.DONE

        conversation = stored(worker, conversation_id)
        assert conversation.transcription_provider == "soniox"
        assert conversation.transcription_passed_over == []
        with engine.connect() as connection:
            assert connection.scalar(ProviderCircuit.__table__.select()) is None  # closed
        worker.close()


class TestSettings:
    def test_the_openai_provider_defaults_to_the_notes_server_and_whisper_1(
        self, recording: Path, services: respx.MockRouter
    ) -> None:
        settings = Settings(
            transcription_providers="openai",
            openai_base_url=OPENAI,
            openai_api_key="sk-notes-key",
            diarization="none",
        )
        transcriber = build_transcriber(settings)

        transcript = transcriber.transcribe(recording)

        assert transcript.provider == "openai"
        request = services.routes["openai"].calls.last.request
        assert request.headers["Authorization"] == "Bearer sk-notes-key"
        assert 'name="model"\r\n\r\nwhisper-1' in request.content.decode(errors="replace")

    def test_soniox_named_without_its_key_is_one_clear_error(self, tmp_path: Path) -> None:
        result = run(
            "list",
            database_url=f"sqlite:///{tmp_path / 'minutes.db'}",
            env={"TRANSCRIPTION_PROVIDERS": "soniox,local", "SONIOX_API_KEY": ""},
        )

        assert (result.returncode, result.stdout) == (2, "")
        assert result.stderr == "error: SONIOX_API_KEY is not set\n"


class TestInProcess:
    def test_an_unreachable_server_hands_over_to_local_whisper(
        self, recording: Path, tmp_path: Path
    ) -> None:
        # Nothing listens on this loopback port: a real refused connection, not a recording.
        closed = f"http://127.0.0.1:{free_port()}/v1"
        database_url = f"sqlite:///{tmp_path / 'minutes.db'}"
        env = {
            "TRANSCRIPTION_PROVIDERS": "openai,local",
            "TRANSCRIPTION_BASE_URL": closed,
            "DIARIZATION": "none",
        }

        processed = run("process", str(recording), "--json", database_url=database_url, env=env)

        assert processed.returncode == 0, processed.stderr
        conversation_id = json.loads(processed.stdout)["conversation"]["id"]
        status = json.loads(
            run("status", conversation_id, "--json", database_url=database_url, env=env).stdout
        )
        assert (status["status"], status["transcription_provider"]) == ("completed", "local")
        [passed] = status["transcription_passed_over"]
        assert passed["provider"] == "openai"
        assert passed["reason"] == f"{closed}: request failed (ConnectError)"
