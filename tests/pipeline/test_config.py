from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.config import Settings


class TestSettings:
    def test_defaults_are_the_embedded_ones(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("DATABASE_URL", "WHISPER_MODEL", "TRANSCRIPTION_PROVIDERS", "AUDIO_ROOTS"):
            monkeypatch.delenv(name, raising=False)
        settings = Settings()
        assert settings.database_url.get_secret_value() == "sqlite:///minutes.db"
        assert settings.whisper_model is None
        assert settings.transcription_providers == ["local"]
        assert settings.synthesis_provider == ["extractive"]
        assert settings.audio_roots == [Path.cwd()]
        assert settings.celery_broker_url is None

    def test_lists_are_comma_separated(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AUDIO_ROOTS", "/srv/recordings, /mnt/uploads")
        monkeypatch.setenv("TRANSCRIPTION_PROVIDERS", "local,")
        monkeypatch.setenv("SYNTHESIS_PROVIDER", "openai, extractive")
        settings = Settings()
        assert settings.audio_roots == [Path("/srv/recordings"), Path("/mnt/uploads")]
        assert settings.transcription_providers == ["local"]
        assert settings.synthesis_provider == ["openai", "extractive"]

    def test_unknown_transcription_providers_are_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TRANSCRIPTION_PROVIDERS", "whisperx")
        with pytest.raises(ValidationError, match="transcription_providers"):
            Settings()

    def test_transcription_providers_are_a_fallback_order(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TRANSCRIPTION_PROVIDERS", "soniox, openai, local")
        assert Settings().transcription_providers == ["soniox", "openai", "local"]

    def test_a_transcription_provider_named_twice_is_refused(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TRANSCRIPTION_PROVIDERS", "openai,local,openai")
        with pytest.raises(ValidationError, match="name each provider once"):
            Settings()

    def test_the_transcription_keys_never_show(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SONIOX_API_KEY", "soniox-hunter2")
        monkeypatch.setenv("TRANSCRIPTION_API_KEY", "sk-hunter3")
        settings = Settings()
        assert "hunter2" not in repr(settings)
        assert "hunter3" not in repr(settings)

    @pytest.mark.parametrize("name", ["TRANSCRIPTION_PROVIDERS", "SYNTHESIS_PROVIDER"])
    def test_at_least_one_provider_is_named(
        self, monkeypatch: pytest.MonkeyPatch, name: str
    ) -> None:
        monkeypatch.setenv(name, " , ")
        with pytest.raises(ValidationError, match=name.lower()):
            Settings()

    def test_the_database_password_never_shows(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:hunter2@db/minutes")
        settings = Settings()
        assert "hunter2" not in repr(settings)
        assert "hunter2" not in str(settings)

    def test_notes_from_a_chat_model_default_to_the_openai_api(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "SYNTHESIS_MODEL"):
            monkeypatch.delenv(name, raising=False)
        settings = Settings()
        assert settings.openai_base_url == "https://api.openai.com/v1"
        assert settings.openai_api_key is None
        assert settings.synthesis_model is None
        assert settings.synthesis_max_input_tokens == 6000

    def test_the_openai_key_never_shows(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-hunter2")
        settings = Settings()
        assert settings.openai_api_key is not None
        assert settings.openai_api_key.get_secret_value() == "sk-test-hunter2"
        assert "hunter2" not in repr(settings)


class TestEmailSettings:
    def test_email_to_is_comma_separated(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SMTP_URL", "smtp+starttls://ann:p4ssw0rd@127.0.0.1:2525")
        monkeypatch.setenv("EMAIL_FROM", "minutes@example.test")
        monkeypatch.setenv("EMAIL_TO", "team@example.test, boss@example.test")
        settings = Settings()
        assert settings.email_to == ["team@example.test", "boss@example.test"]
        assert "p4ssw0rd" not in repr(settings)

    def test_a_server_without_a_sender_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
        monkeypatch.delenv("EMAIL_FROM", raising=False)
        with pytest.raises(ValidationError, match="set EMAIL_FROM"):
            Settings()

    def test_an_unusable_url_is_refused_without_showing_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SMTP_URL", "imap://ann:secret@127.0.0.1")
        monkeypatch.setenv("EMAIL_FROM", "minutes@example.test")
        with pytest.raises(ValidationError, match="smtp\\+starttls://") as raised:
            Settings()
        assert "secret" not in str(raised.value)
