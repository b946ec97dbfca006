"""`minutes process` and `minutes enqueue` on speech beyond English: the language detected
or given is stored on the conversation; a language Whisper does not know is refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from repositories.models import Conversation
from tests.integrations.test_languages import models_dir, spoken
from tests.pipeline.test_cli import cli_database, count, migrated, one_line_error, run
from tests.workers import broker_url

__all__ = ["broker_url", "cli_database", "migrated", "models_dir", "spoken"]  # fixtures used


def _languages(engine: Engine, conversation_id: str) -> tuple[str | None, str | None]:
    with engine.connect() as connection:
        row = connection.execute(
            select(Conversation.language, Conversation.requested_language).where(
                Conversation.id == uuid.UUID(conversation_id)
            )
        ).one()
    return row.language, row.requested_language


def _process(
    migrated: tuple[str, Engine], models_dir: Path, *args: str, model: str
) -> dict[str, Any]:
    url, _ = migrated
    env = {"WHISPER_MODEL": model, "MODEL_CACHE_DIR": str(models_dir), "DIARIZATION": "none"}
    result = run("process", *args, "--json", database_url=url, env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


class TestProcessLanguages:
    def test_the_detected_language_is_stored_and_the_text_is_in_it(
        self, migrated: tuple[str, Engine], models_dir: Path, spoken: dict[str, Path]
    ) -> None:
        document = _process(migrated, models_dir, str(spoken["de"]), model="auto")

        conversation_id = document["conversation"]["id"]
        assert document["conversation"]["language"] == "de"
        assert _languages(migrated[1], conversation_id) == ("de", None)
        said = " ".join(segment["text"] for segment in document["segments"])
        assert "Zeitplan" in said

    def test_english_only_tiny_en_says_so_and_stores_the_language_heard(
        self, migrated: tuple[str, Engine], models_dir: Path, spoken: dict[str, Path]
    ) -> None:
        url, _ = migrated
        env = {"MODEL_CACHE_DIR": str(models_dir), "DIARIZATION": "none"}  # tiny.en: the default
        result = run("process", str(spoken["de"]), "--json", database_url=url, env=env)

        assert result.returncode == 0, result.stderr
        assert "writes English only" in result.stderr
        assert "WHISPER_MODEL=auto" in result.stderr
        document = json.loads(result.stdout)
        assert document["conversation"]["language"] == "de"  # never passed off as English

    def test_language_forces_one(
        self, migrated: tuple[str, Engine], models_dir: Path, spoken: dict[str, Path]
    ) -> None:
        # Spanish named for French speech: the user's word wins over what is heard.
        document = _process(
            migrated, models_dir, str(spoken["fr"]), "--language", "ES", model="base"
        )

        conversation_id = document["conversation"]["id"]
        assert _languages(migrated[1], conversation_id) == ("es", "es")

    @pytest.mark.parametrize("command", ["process", "enqueue"])
    @pytest.mark.parametrize("language", ["xx", "german", ""])
    def test_a_language_whisper_does_not_know_is_refused(
        self, migrated: tuple[str, Engine], tmp_path: Path, command: str, language: str
    ) -> None:
        url, engine = migrated
        (tmp_path / "a.wav").write_bytes(b"RIFF")
        before = count(engine, Conversation)

        line = one_line_error(
            run(command, "a.wav", "--language", language, database_url=url, cwd=tmp_path)
        )

        assert line.startswith("error: --language")
        assert "ISO 639-1" in line
        assert count(engine, Conversation) == before


class TestEnqueueLanguage:
    def test_the_language_is_stored_for_the_transcription(
        self, migrated: tuple[str, Engine], broker_url: str, tmp_path: Path
    ) -> None:
        url, engine = migrated
        (tmp_path / "weekly.wav").write_bytes(b"RIFF")
        env = {"CELERY_BROKER_URL": broker_url, "AUDIO_ROOTS": str(tmp_path)}

        result = run(
            "enqueue", "weekly.wav", "--language", "fr", database_url=url, cwd=tmp_path, env=env
        )

        assert result.returncode == 0, result.stderr
        assert _languages(engine, result.stdout.strip()) == (None, "fr")
