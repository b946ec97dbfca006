from __future__ import annotations

import http.server
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, update

from integrations.audio_sources import (
    AudioSources,
    SourceOutsideRootsError,
    SourceUnavailableError,
)
from integrations.diarization.base import NamedTurn
from integrations.errors import TransientIntegrationError
from integrations.synthesis.chain import SynthesisChain
from integrations.transcription.base import (
    MalformedTranscriptError,
    Transcriber,
    Transcript,
    UnreadableMediaError,
)
from integrations.transcription.platform import parse_transcript_file
from pipeline import stages
from pipeline.config import Settings
from pipeline.intake import ParticipantInput, create_conversation
from pipeline.leases import Leases
from pipeline.providers import build_synthesizer, build_transcriber
from pipeline.stages import StageOutcome
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import Conversation, ConversationStatus, GraphOutboxEvent, utc_now
from tests.audio import silence

Status = ConversationStatus

VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Ann Lee>We decided to move the release to Monday.</v>

00:00:04.500 --> 00:00:09.000
<v Bo Chen>I will update the release notes by Friday.</v>

00:00:09.500 --> 00:00:12.000
<v Ann Lee>Do we need a security review first?</v>

00:00:12.500 --> 00:00:14.000
<v Bo Chen>Nobody knows yet, so that stays open.</v>
"""


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    # As configured by default: transcript files read, recordings heard by local Whisper.
    return build_transcriber(Settings())


@pytest.fixture(scope="module")
def synthesizer() -> SynthesisChain:
    return build_synthesizer(Settings())


@pytest.fixture
def vtt_file(tmp_path: Path) -> Path:
    path = tmp_path / "release.vtt"
    path.write_text(VTT, encoding="utf-8")
    return path


def _conversation(uow: UnitOfWork, path: Path, *people: str) -> uuid.UUID:
    return create_conversation(
        uow,
        source_uri=str(path),
        title="Release sync",
        participants=[ParticipantInput.parse(person) for person in people],
    )


def _status(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    with uow:
        return uow.conversations.get(conversation_id)


def _loaded(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    """The conversation with its participants, segments and notes (in an open `uow`)."""
    conversation = uow.conversations.get_with_transcript(conversation_id)
    assert conversation is not None
    return conversation


def _segment_rows(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[tuple[Any, ...]]:
    with uow:
        return [
            (s.position, s.start, s.end, s.speaker, s.text, s.words)
            for s in _loaded(uow, conversation_id).segments
        ]


def _events(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[GraphOutboxEvent]:
    return [e for e in uow.graph_outbox.list(limit=1000) if e.conversation_id == conversation_id]


def _run_all(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    transcriber: Transcriber,
    synthesizer: SynthesisChain,
    sources: AudioSources,
) -> None:
    stages.transcribe(conversation_id, uow=uow, transcriber=transcriber, sources=sources)
    stages.synthesize(conversation_id, uow=uow, synthesizer=synthesizer)


class TestTranscribe:
    def test_platform_transcript_lands_with_speakers(
        self, uow: UnitOfWork, vtt_file: Path, transcriber: Transcriber
    ) -> None:
        conversation_id = _conversation(uow, vtt_file, "Ann Lee <ann@example.com>")
        outcome = stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([vtt_file.parent]),
        )
        assert outcome is StageOutcome.DONE
        rows = _segment_rows(uow, conversation_id)
        assert [(r[3], r[4]) for r in rows] == [
            ("Ann Lee", "We decided to move the release to Monday."),
            ("Bo Chen", "I will update the release notes by Friday."),
            ("Ann Lee", "Do we need a security review first?"),
            ("Bo Chen", "Nobody knows yet, so that stays open."),
        ]
        conversation = _status(uow, conversation_id)
        assert conversation.status is Status.SYNTHESIZING
        assert conversation.transcription_provider == "platform:vtt"
        assert conversation.word_count == 30
        assert conversation.attempts == 1
        with uow:
            people = _loaded(uow, conversation_id).participants
        # The speaker the caller named keeps their email; the new one is added by name.
        assert [(p.name, p.email) for p in people] == [
            ("Ann Lee", "ann@example.com"),
            ("Bo Chen", None),
        ]

    def test_audio_is_transcribed_with_word_timestamps(
        self, uow: UnitOfWork, corpus: Path, transcriber: Transcriber
    ) -> None:
        audio = corpus / "speech" / "jfk.flac"
        conversation_id = _conversation(uow, audio)
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([audio.parent]),
        )
        rows = _segment_rows(uow, conversation_id)
        text = " ".join(r[4] for r in rows).lower()
        assert "ask not what your country can do for you" in text
        for _, start, end, _, _, words in rows:
            assert words
            assert all(start <= word["start"] <= word["end"] <= end for word in words)
        conversation = _status(uow, conversation_id)
        assert conversation.transcription_provider == "local"
        assert conversation.duration_seconds == pytest.approx(11.0, abs=0.1)

    def test_a_recording_is_stored_with_its_speakers(
        self, uow: UnitOfWork, corpus: Path, transcriber: Transcriber
    ) -> None:
        audio = corpus / "speech" / "jfk.flac"
        conversation_id = _conversation(uow, audio)
        stages.transcribe(
            conversation_id, uow=uow, transcriber=transcriber, sources=AudioSources([audio.parent])
        )

        assert {row[3] for row in _segment_rows(uow, conversation_id)} == {"Speaker 1"}
        with uow:
            # "Speaker 1" names no one: it is not a participant.
            assert _loaded(uow, conversation_id).participants == []

    def test_channels_with_different_voices_are_the_participants_in_order(
        self, uow: UnitOfWork, corpus: Path, transcriber: Transcriber
    ) -> None:
        audio = corpus / "speech" / "stereo_diarization.wav"
        conversation_id = _conversation(uow, audio, "Ana Ruiz <ana@example.com>", "Ben Okoro")
        stages.transcribe(
            conversation_id, uow=uow, transcriber=transcriber, sources=AudioSources([audio.parent])
        )

        rows = _segment_rows(uow, conversation_id)
        assert {row[3] for row in rows} == {"Ana Ruiz", "Ben Okoro"}
        assert [row[1] for row in rows] == sorted(row[1] for row in rows)
        with uow:
            names = [p.name for p in _loaded(uow, conversation_id).participants]
        assert names == ["Ana Ruiz", "Ben Okoro"]

    def test_twice_leaves_the_same_rows(
        self,
        uow: UnitOfWork,
        connection: Connection,
        vtt_file: Path,
        transcriber: Transcriber,
    ) -> None:
        sources = AudioSources([vtt_file.parent])
        conversation_id = _conversation(uow, vtt_file)
        stages.transcribe(conversation_id, uow=uow, transcriber=transcriber, sources=sources)
        first = _segment_rows(uow, conversation_id)
        second_run = stages.transcribe(
            conversation_id, uow=uow, transcriber=transcriber, sources=sources
        )
        assert second_run is StageOutcome.SKIPPED
        assert _segment_rows(uow, conversation_id) == first
        # A redelivery that started while the first run was still transcribing: it runs
        # again in full and replaces, never appends.
        connection.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            # As a claim leaves it, the lease lapsed: the worker holding it died.
            .values(status=Status.TRANSCRIBING, deliveries=1)
        )
        redelivered = stages.transcribe(
            conversation_id, uow=uow, transcriber=transcriber, sources=sources
        )
        assert redelivered is StageOutcome.DONE
        assert _segment_rows(uow, conversation_id) == first
        with uow:
            assert len(_loaded(uow, conversation_id).participants) == 2

    def test_unreadable_audio_fails_the_conversation(
        self, uow: UnitOfWork, tmp_path: Path, transcriber: Transcriber
    ) -> None:
        bogus = tmp_path / "notes.wav"
        bogus.write_text("this is not audio", encoding="utf-8")
        conversation_id = _conversation(uow, bogus)
        with pytest.raises(UnreadableMediaError):
            stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=transcriber,
                sources=AudioSources([tmp_path]),
            )
        conversation = _status(uow, conversation_id)
        assert conversation.status is Status.FAILED
        assert conversation.error_message is not None
        assert "notes.wav" in conversation.error_message
        assert conversation.failed_at is not None
        assert _segment_rows(uow, conversation_id) == []

    def test_malformed_transcript_fails_the_conversation(
        self, uow: UnitOfWork, tmp_path: Path, transcriber: Transcriber
    ) -> None:
        broken = tmp_path / "broken.vtt"
        broken.write_text("WEBVTT\n\n00:00:0x.000 --> 00:00:01.000\nHello\n", encoding="utf-8")
        conversation_id = _conversation(uow, broken)
        with pytest.raises(MalformedTranscriptError):
            stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=transcriber,
                sources=AudioSources([tmp_path]),
            )
        assert _status(uow, conversation_id).status is Status.FAILED

    def test_a_source_outside_the_audio_roots_is_refused(
        self, uow: UnitOfWork, tmp_path: Path, vtt_file: Path, transcriber: Transcriber
    ) -> None:
        allowed = tmp_path / "allowed"
        allowed.mkdir()
        conversation_id = _conversation(uow, allowed / ".." / vtt_file.name)
        with pytest.raises(SourceOutsideRootsError):
            stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=transcriber,
                sources=AudioSources([allowed]),
            )
        conversation = _status(uow, conversation_id)
        assert conversation.status is Status.FAILED
        assert "outside the allowed audio roots" in (conversation.error_message or "")

    def test_unknown_conversation_is_gone(self, uow: UnitOfWork, transcriber: Transcriber) -> None:
        outcome = stages.transcribe(
            uuid.uuid4(), uow=uow, transcriber=transcriber, sources=AudioSources([])
        )
        assert outcome is StageOutcome.GONE


class TestSynthesizeAndComplete:
    def test_whole_pipeline_writes_notes_stats_and_one_outbox_event(
        self,
        uow: UnitOfWork,
        vtt_file: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        conversation_id = _conversation(uow, vtt_file, "Ann Lee", "Cy Diaz")
        _run_all(uow, conversation_id, transcriber, synthesizer, AudioSources([vtt_file.parent]))
        conversation = _status(uow, conversation_id)
        assert conversation.status is Status.COMPLETED
        assert conversation.completed_at is not None
        with uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
            people = {p.name: p for p in _loaded(uow, conversation_id).participants}
            events = _events(uow, conversation_id)
        assert notes is not None
        assert notes.provider == "extractive"
        assert any("release" in decision["text"].lower() for decision in notes.key_decisions)
        assert {"owner": "Bo Chen", "due": "Friday"}.items() <= notes.action_items[0].items()
        assert any("security review" in q["text"].lower() for q in notes.open_questions)
        assert people["Ann Lee"].spoken_seconds == pytest.approx(6.5)
        assert people["Ann Lee"].word_count == 15
        assert people["Bo Chen"].word_count == 15
        assert people["Cy Diaz"].spoken_seconds is None  # named, but never spoke
        assert len(events) == 1
        assert events[0].event_type == "conversation.completed"
        assert events[0].payload["conversation_id"] == str(conversation_id)
        assert events[0].processed_at is None

    def test_speakers_labelled_by_first_name_are_the_invited_people(
        self,
        uow: UnitOfWork,
        tmp_path: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        path = tmp_path / "first-names.vtt"
        path.write_text(VTT.replace("<v Ann Lee>", "<v Ann>").replace("<v Bo Chen>", "<v Bo>"))
        conversation_id = _conversation(uow, path, "Ann Lee", "Bo Chen <bo@example.com>")
        _run_all(uow, conversation_id, transcriber, synthesizer, AudioSources([tmp_path]))
        with uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
            people = {p.name: p for p in _loaded(uow, conversation_id).participants}
        # "Ann" and "Bo" are no new participants: their speaking counts for the invited.
        assert set(people) == {"Ann Lee", "Bo Chen"}
        assert people["Ann Lee"].spoken_seconds == pytest.approx(6.5)
        assert people["Bo Chen"].word_count == 15
        assert notes is not None
        # "I will update the release notes by Friday", said by "Bo".
        assert notes.action_items[0]["owner"] == "Bo Chen"
        assert notes.action_items[0]["due"] == "Friday"

    def test_owners_get_their_address_and_due_phrases_a_date_from_the_meetings_start(
        self,
        uow: UnitOfWork,
        vtt_file: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        conversation_id = create_conversation(
            uow,
            source_uri=str(vtt_file),
            title="Release sync",
            participants=[ParticipantInput.parse(p) for p in ("Ann Lee", "Bo Chen <bo@x.org>")],
            started_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),  # a Wednesday
        )

        _run_all(uow, conversation_id, transcriber, synthesizer, AudioSources([vtt_file.parent]))

        with uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
        assert notes is not None
        # "I will update the release notes by Friday", said by Bo Chen.
        assert {
            "owner": "Bo Chen",
            "owner_email": "bo@x.org",
            "due": "Friday",
            "due_date": "2026-03-06",
        }.items() <= notes.action_items[0].items()

    def test_a_speakers_first_name_shared_with_another_speaker_is_a_participant_of_its_own(
        self,
        uow: UnitOfWork,
        tmp_path: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        path = tmp_path / "namesakes.vtt"
        path.write_text(VTT.replace("<v Ann Lee>", "<v Ann>").replace("<v Bo Chen>", "<v Ann Ho>"))
        conversation_id = _conversation(uow, path, "Ann Lee")
        _run_all(uow, conversation_id, transcriber, synthesizer, AudioSources([tmp_path]))
        with uow:
            people = {p.name: p for p in _loaded(uow, conversation_id).participants}
        # With "Ann Ho" speaking too, "Ann" could be either: someone of their own.
        assert set(people) == {"Ann Lee", "Ann Ho", "Ann"}
        assert people["Ann"].spoken_seconds == pytest.approx(6.5)
        assert people["Ann Lee"].spoken_seconds is None

    def test_each_stage_twice_leaves_the_same_rows(
        self,
        uow: UnitOfWork,
        connection: Connection,
        vtt_file: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        conversation_id = _conversation(uow, vtt_file)
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([vtt_file.parent]),
        )

        def notes() -> tuple[Any, ...]:
            with uow:
                synthesis = uow.syntheses.get_by_conversation(conversation_id)
                assert synthesis is not None
                assert uow.syntheses.count() == 1
                return (
                    synthesis.id,
                    synthesis.summary,
                    synthesis.key_decisions,
                    synthesis.action_items,
                    synthesis.open_questions,
                    synthesis.key_topics,
                )

        assert stages.synthesize(conversation_id, uow=uow, synthesizer=synthesizer) is (
            StageOutcome.DONE
        )
        first = notes()
        completed = _status(uow, conversation_id)
        assert completed.status is Status.COMPLETED
        assert completed.follow_up_due

        assert stages.synthesize(conversation_id, uow=uow, synthesizer=synthesizer) is (
            StageOutcome.SKIPPED
        )
        assert stages.complete(conversation_id, uow=uow) is StageOutcome.SKIPPED
        assert notes() == first
        assert _status(uow, conversation_id).completed_at == completed.completed_at
        with uow:
            assert [e.event_type for e in _events(uow, conversation_id)] == [
                "conversation.completed"
            ]

    def test_notes_stored_apart_from_the_completion_are_completed_once(
        self, uow: UnitOfWork, vtt_file: Path, transcriber: Transcriber
    ) -> None:
        # The rows a version that stored the notes before completing left behind.
        conversation_id = _conversation(uow, vtt_file)
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([vtt_file.parent]),
        )
        with uow:
            uow.syntheses.add_for_conversation(
                conversation_id, summary="Stored apart.", provider="extractive"
            )

        assert stages.complete(conversation_id, uow=uow) is StageOutcome.DONE
        assert stages.complete(conversation_id, uow=uow) is StageOutcome.SKIPPED

        status = _status(uow, conversation_id)
        assert status.status is Status.COMPLETED
        assert status.follow_up_due
        with uow:
            assert len(_events(uow, conversation_id)) == 1

    def test_complete_before_synthesis_does_nothing(
        self,
        uow: UnitOfWork,
        vtt_file: Path,
        transcriber: Transcriber,
    ) -> None:
        conversation_id = _conversation(uow, vtt_file)
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([vtt_file.parent]),
        )
        assert stages.complete(conversation_id, uow=uow) is StageOutcome.SKIPPED
        assert _status(uow, conversation_id).status is Status.SYNTHESIZING


class TestRetry:
    def test_failed_goes_back_to_pending_and_then_completes(
        self,
        uow: UnitOfWork,
        tmp_path: Path,
        transcriber: Transcriber,
        synthesizer: SynthesisChain,
    ) -> None:
        transcript = tmp_path / "late.vtt"
        conversation_id = _conversation(uow, transcript)
        sources = AudioSources([tmp_path])
        with pytest.raises(Exception, match="no such file"):
            stages.transcribe(conversation_id, uow=uow, transcriber=transcriber, sources=sources)
        assert _status(uow, conversation_id).status is Status.FAILED

        transcript.write_text(VTT, encoding="utf-8")  # the upload arrives after all
        assert stages.reset_for_retry(conversation_id, uow=uow)
        assert not stages.reset_for_retry(conversation_id, uow=uow)
        pending = _status(uow, conversation_id)
        assert pending.status is Status.PENDING
        assert pending.error_message is None

        _run_all(uow, conversation_id, transcriber, synthesizer, sources)
        completed = _status(uow, conversation_id)
        assert completed.status is Status.COMPLETED
        assert completed.attempts == 2


class _ScriptedTranscriber:
    """A provider that answers from a script: an error to raise, or progress then a result."""

    def __init__(self, *, error: Exception | None = None, wait_for_progress: Any = None) -> None:
        self.calls = 0
        self._error = error
        self._wait_for_progress = wait_for_progress

    def transcribe(
        self,
        path: Path,
        *,
        title: str | None = None,
        participants: Sequence[str] = (),
        timeline: Sequence[NamedTurn] = (),
        language: str | None = None,
        on_progress: Any = None,
    ) -> Transcript:
        self.calls += 1
        if self._error is not None:
            raise self._error
        if self._wait_for_progress is not None:
            on_progress(0.5)
            self._wait_for_progress()
        return parse_transcript_file(self.vtt)

    vtt: Path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return silence(tmp_path / "standup.wav", seconds=1.0)


def _scripted(vtt_file: Path, **script: Any) -> _ScriptedTranscriber:
    transcriber = _ScriptedTranscriber(**script)
    transcriber.vtt = vtt_file
    return transcriber


def _taken_by_a_worker_that_died(
    uow: UnitOfWork, conversation_id: uuid.UUID, *, minutes_ago: float
) -> None:
    """A claim of the transcription `minutes_ago`, whose one-minute lease then lapsed."""
    taken = utc_now() - timedelta(minutes=minutes_ago)
    with uow:
        uow.conversations.claim_for_transcription(
            conversation_id, token=uuid.uuid4(), lease_until=taken + timedelta(minutes=1), now=taken
        )


def _assert_given_up_after(uow: UnitOfWork, conversation_id: uuid.UUID, *, tries: int) -> None:
    failed = _status(uow, conversation_id)
    assert failed.status is Status.FAILED
    assert failed.error_message is not None
    assert failed.error_message.startswith(f"gave up after {tries} tries: the worker was lost")


class TestLeasedStages:
    def test_a_stage_leased_by_a_live_worker_is_left_alone(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        now = utc_now()
        with uow:
            uow.conversations.claim_for_transcription(
                conversation_id, token=uuid.uuid4(), lease_until=now + timedelta(minutes=5), now=now
            )
        transcriber = _scripted(vtt_file)

        outcome = stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([recording.parent]),
        )

        assert outcome is StageOutcome.SKIPPED
        assert transcriber.calls == 0
        assert _status(uow, conversation_id).status is Status.TRANSCRIBING

    def test_a_transient_error_hands_the_stage_back_for_its_retry(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        sources = AudioSources([recording.parent])
        away = _scripted(vtt_file, error=TransientIntegrationError("service unavailable (503)"))

        with pytest.raises(TransientIntegrationError):
            stages.transcribe(
                conversation_id, uow=uow, transcriber=away, sources=sources, final_attempt=False
            )
        handed_back = _status(uow, conversation_id)
        assert handed_back.status is Status.TRANSCRIBING
        assert handed_back.lease_token is None
        assert handed_back.lease_expires_at is not None  # due again if the retry is lost
        assert handed_back.error_message is None

        outcome = stages.transcribe(
            conversation_id, uow=uow, transcriber=_scripted(vtt_file), sources=sources
        )
        assert outcome is StageOutcome.DONE
        assert _status(uow, conversation_id).status is Status.SYNTHESIZING

    def test_the_last_retry_of_a_transient_error_fails_the_conversation(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        away = _scripted(vtt_file, error=TransientIntegrationError("service unavailable (503)"))

        with pytest.raises(TransientIntegrationError):
            stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=away,
                sources=AudioSources([recording.parent]),
                final_attempt=True,
            )
        failed = _status(uow, conversation_id)
        assert failed.status is Status.FAILED
        assert failed.error_message == "service unavailable (503)"
        assert failed.lease_expires_at is None

    def test_a_bug_in_a_provider_fails_the_conversation_with_its_message(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        broken = _scripted(vtt_file, error=KeyError("segments"))

        with pytest.raises(KeyError):
            stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=broken,
                sources=AudioSources([recording.parent]),
                final_attempt=False,  # not transient: retries would not help
            )
        failed = _status(uow, conversation_id)
        assert failed.status is Status.FAILED
        assert failed.error_message == "'segments'"

    def test_a_stage_that_keeps_losing_its_worker_is_given_up(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        leases = Leases(seconds=60, max_deliveries=2)
        for minutes_ago in (10, 5):  # two workers took it and died: their leases lapsed
            _taken_by_a_worker_that_died(uow, conversation_id, minutes_ago=minutes_ago)
        transcriber = _scripted(vtt_file)

        outcome = stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=transcriber,
            sources=AudioSources([recording.parent]),
            leases=leases,
        )

        assert outcome is StageOutcome.FAILED
        assert transcriber.calls == 0
        _assert_given_up_after(uow, conversation_id, tries=2)

    def test_the_heartbeat_renews_the_lease_and_records_progress(
        self, engine: Engine, recording: Path, vtt_file: Path
    ) -> None:
        # Real commits on their own connections: the heartbeat runs in a thread of its own.
        uow = UnitOfWork(create_session_factory(engine))
        conversation_id = _conversation(uow, recording)
        leases = Leases(seconds=0.6)  # a heartbeat every 0.2 s
        seen: list[tuple[int | None, Any]] = []

        def watch_heartbeats() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                row = _status(uow, conversation_id)
                seen.append((row.progress, row.lease_expires_at))
                if len({expiry for _, expiry in seen}) >= 3 and row.progress == 50:
                    return
                time.sleep(0.05)

        reported: list[int] = []
        try:
            outcome = stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=_scripted(vtt_file, wait_for_progress=watch_heartbeats),
                sources=AudioSources([recording.parent]),
                leases=leases,
                on_progress=reported.append,
            )
            assert outcome is StageOutcome.DONE
            assert reported == [50]
            assert seen[-1][0] == 50
            assert len({expiry for _, expiry in seen}) >= 3  # renewed again and again
        finally:
            with uow:
                uow.conversations.delete(uow.conversations.get(conversation_id))


class _UnavailableThenServing(http.server.ThreadingHTTPServer):
    """A recording server on loopback that answers 503 `unavailable` times, then the file."""

    def __init__(self, body: bytes, *, unavailable: int) -> None:
        super().__init__(("127.0.0.1", 0), _UnavailableThenServingHandler)
        self.body = body
        self.unavailable = unavailable
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/standup.vtt"


class _UnavailableThenServingHandler(http.server.BaseHTTPRequestHandler):
    server: _UnavailableThenServing

    def do_GET(self) -> None:
        self.server.requests += 1
        if self.server.requests <= self.server.unavailable:
            self.send_error(503, "Service Unavailable")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def serve_recording() -> Iterator[Any]:
    servers: list[_UnavailableThenServing] = []

    def serve(*, unavailable: int) -> _UnavailableThenServing:
        server = _UnavailableThenServing(VTT.encode(), unavailable=unavailable)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


# The worker's defaults: a task is retried this often after a transient error.
TASK_MAX_RETRIES = 8


def _transcribe_with_retries(
    uow: UnitOfWork, conversation_id: uuid.UUID, transcriber: Any
) -> StageOutcome:
    """The stage as its Celery task runs it: a transient error retried, the last one final.

    The recording is on loopback, which ALLOW_PRIVATE_SOURCES lets sources reach.
    """
    sources = AudioSources([], allow_private_addresses=True)
    for retries in range(TASK_MAX_RETRIES + 1):
        try:
            return stages.transcribe(
                conversation_id,
                uow=uow,
                transcriber=transcriber,
                sources=sources,
                final_attempt=retries == TASK_MAX_RETRIES,
            )
        except SourceUnavailableError:
            if retries == TASK_MAX_RETRIES:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


class TestTransientRetries:
    def test_a_source_that_answers_503_five_times_then_200_completes(
        self, uow: UnitOfWork, vtt_file: Path, serve_recording: Any
    ) -> None:
        server = serve_recording(unavailable=5)
        conversation_id = create_conversation(uow, source_uri=server.url, title="Standup")

        outcome = _transcribe_with_retries(uow, conversation_id, _scripted(vtt_file))

        # Five handed-back retries are not five lost workers.
        assert outcome is StageOutcome.DONE
        assert server.requests == 6
        transcribed = _status(uow, conversation_id)
        assert transcribed.status is Status.SYNTHESIZING
        assert transcribed.error_message is None
        assert len(_segment_rows(uow, conversation_id)) == 4

    def test_retries_used_up_store_the_real_error(
        self, uow: UnitOfWork, vtt_file: Path, serve_recording: Any
    ) -> None:
        server = serve_recording(unavailable=1000)
        conversation_id = create_conversation(uow, source_uri=server.url, title="Standup")

        with pytest.raises(SourceUnavailableError):
            _transcribe_with_retries(uow, conversation_id, _scripted(vtt_file))

        assert server.requests == TASK_MAX_RETRIES + 1
        failed = _status(uow, conversation_id)
        assert failed.status is Status.FAILED
        assert failed.error_message is not None
        assert failed.error_message.endswith("standup.vtt: HTTP 503 Service Unavailable")

    def test_lost_workers_still_count_between_transient_retries(
        self, uow: UnitOfWork, recording: Path, vtt_file: Path
    ) -> None:
        conversation_id = _conversation(uow, recording)
        sources = AudioSources([recording.parent])
        leases = Leases(seconds=60, max_deliveries=2)
        away = _scripted(vtt_file, error=TransientIntegrationError("service unavailable (503)"))
        for minutes_ago in (10, 5):  # a transient error handed back, then a worker died
            with pytest.raises(TransientIntegrationError):
                stages.transcribe(
                    conversation_id,
                    uow=uow,
                    transcriber=away,
                    sources=sources,
                    leases=leases,
                    final_attempt=False,
                )
            _taken_by_a_worker_that_died(uow, conversation_id, minutes_ago=minutes_ago)

        outcome = stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=_scripted(vtt_file),
            sources=sources,
            leases=leases,
        )

        assert outcome is StageOutcome.FAILED
        _assert_given_up_after(uow, conversation_id, tries=2)
