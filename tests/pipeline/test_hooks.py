"""The Python upload hook: what an UploadEvent accepts, and one conversation per upload."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import Engine

from integrations.audio_sources import AddressNotAllowedError, SourceOutsideRootsError
from pipeline.config import Settings
from pipeline.hooks import UploadEvent, store_upload
from pipeline.runtime import Runtime
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import Conversation, ConversationStatus
from tests.audio import silence


@pytest.fixture
def runtime(committed_database: tuple[str, Engine], tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(
        Settings(database_url=SecretStr(committed_database[0]), audio_roots=[tmp_path])
    )
    yield runtime
    runtime.close()


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return silence(tmp_path / "standup.wav", seconds=1.0)


def _count(engine: Engine, *criteria: Any) -> int:
    with UnitOfWork(create_session_factory(engine)) as uow:
        return uow.conversations.count(*criteria)


class TestUploadEvent:
    def test_only_the_source_is_required(self) -> None:
        event = UploadEvent.model_validate({"source_uri": "/srv/standup.wav"})
        assert event.participants == []
        assert event.idempotency_key is None

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"source_uri": ""},
            {"source_uri": "/a.wav", "platform_meeting_id": "881"},  # whose meeting?
            {"source_uri": "/a.wav", "participants": [{"organizer": True}]},
            {"source_uri": "/a.wav", "participants": [{"name": "Bo", "email": "not-an-address"}]},
            {"source_uri": "/a.wav", "started_at": "2026-11-23T09:00:00"},  # no time zone
            {"source_uri": "/a.wav", "recorded_by": "zoom"},  # unknown fields are mistakes
            {"source_uri": "/a.wav", "language": "german"},  # a code, as Whisper knows them
            {"source_uri": "/a.wav", "language": "xx"},
        ],
    )
    def test_what_is_refused(self, body: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            UploadEvent.model_validate(body)

    def test_a_participant_error_does_not_repeat_the_value(self) -> None:
        with pytest.raises(ValidationError) as refused:
            UploadEvent.model_validate(
                {"source_uri": "/a.wav", "participants": [{"email": "s3cr3t-value"}]}
            )
        assert "s3cr3t-value" not in str(refused.value.errors(include_input=False))


class TestStoreUpload:
    def test_an_upload_becomes_one_pending_conversation_with_its_people(
        self, runtime: Runtime, recording: Path
    ) -> None:
        event = UploadEvent.model_validate(
            {
                "source_uri": str(recording),
                "title": "Weekly sync",
                "platform": "zoom",
                "platform_meeting_id": f"zm-{uuid.uuid4().hex[:8]}",
                "participants": [
                    {"name": "Ann Lee", "email": "Ann@Example.com", "organizer": True},
                    {"email": "bo.chen@example.com"},
                ],
                "started_at": "2026-11-23T09:00:00+01:00",
                "language": " DE",
            }
        )

        stored = store_upload(event, runtime=runtime)

        assert stored.created
        assert stored.status is ConversationStatus.PENDING
        with runtime.unit_of_work() as uow:
            conversation = uow.conversations.get_with_transcript(stored.conversation_id)
        assert conversation is not None
        assert conversation.lease_expires_at is not None  # due: the sweep resends if lost
        assert conversation.started_at is not None
        assert conversation.started_at.isoformat() == "2026-11-23T08:00:00+00:00"
        # The transcription is told the language instead of detecting it.
        assert (conversation.requested_language, conversation.language) == ("de", None)
        assert [(p.name, p.email, p.is_organizer) for p in conversation.participants] == [
            ("Ann Lee", "ann@example.com", True),
            ("bo.chen", "bo.chen@example.com", False),
        ]

    def test_the_same_key_from_many_callers_at_once_makes_one_conversation(
        self, runtime: Runtime, recording: Path, committed_database: tuple[str, Engine]
    ) -> None:
        key = f"upload-{uuid.uuid4()}"
        event = UploadEvent(source_uri=str(recording), idempotency_key=key)
        barrier = threading.Barrier(4)
        results: list[tuple[uuid.UUID, bool]] = []

        def upload() -> None:
            barrier.wait(timeout=10)
            stored = store_upload(event, runtime=runtime)
            results.append((stored.conversation_id, stored.created))

        callers = [threading.Thread(target=upload) for _ in range(4)]
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=30)

        assert len(results) == 4
        assert len({conversation_id for conversation_id, _ in results}) == 1
        assert sorted(created for _, created in results) == [False, False, False, True]
        assert _count(committed_database[1], Conversation.idempotency_key == key) == 1

    def test_a_repeated_platform_meeting_is_the_same_conversation(
        self, runtime: Runtime, recording: Path
    ) -> None:
        meeting = {"platform": "teams", "platform_meeting_id": f"t-{uuid.uuid4().hex[:8]}"}
        first = store_upload(UploadEvent(source_uri=str(recording), **meeting), runtime=runtime)
        again = store_upload(
            UploadEvent(source_uri=str(recording), title="Renamed", **meeting), runtime=runtime
        )
        assert again.conversation_id == first.conversation_id
        assert not again.created

    @pytest.mark.parametrize(
        ("source", "error"),
        [
            ("/etc/hostname", SourceOutsideRootsError),
            ("http://127.0.0.1:9/standup.wav", AddressNotAllowedError),
            ("http://169.254.169.254/latest/meta-data", AddressNotAllowedError),
        ],
    )
    def test_a_source_it_may_not_read_stores_nothing(
        self,
        runtime: Runtime,
        committed_database: tuple[str, Engine],
        source: str,
        error: type[Exception],
    ) -> None:
        before = _count(committed_database[1])
        with pytest.raises(error):
            store_upload(UploadEvent(source_uri=source), runtime=runtime)
        assert _count(committed_database[1]) == before
