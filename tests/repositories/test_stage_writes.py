"""The stages' end-of-stage writes: one statement on PostgreSQL, a transaction on SQLite.

Both backends, through units of work on a real engine (committing, as the stages do, so
PostgreSQL's writes run outside a transaction as they do in a worker).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from pipeline import schema, stages
from pipeline.config import Settings
from pipeline.providers import build_synthesizer
from pipeline.stages import StageOutcome
from repositories.database import UnitOfWork, create_database_engine, create_session_factory
from repositories.models import (
    ConversationStatus,
    EmailStatus,
    GraphOutboxEvent,
    Participant,
    Synthesis,
    TranscriptSegment,
    utc_now,
)
from repositories.segments import NewSegment
from tests import factories

Status = ConversationStatus


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def stage_uow(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[UnitOfWork]:
    engine: Engine
    if request.param == "postgresql":
        _, engine = request.getfixturevalue("committed_database")
        yield UnitOfWork(create_session_factory(engine))
        return
    engine = create_database_engine(f"sqlite:///{tmp_path_factory.mktemp('sqlite')}/minutes.db")
    schema.upgrade(engine)
    yield UnitOfWork(create_session_factory(engine))
    engine.dispose()


def _segment(index: int, text: str, speaker: str) -> NewSegment:
    return NewSegment(
        start=index * 2.0,
        end=index * 2.0 + 1.5,
        text=text,
        speaker=speaker,
        words=[{"word": text.split()[0], "start": index * 2.0, "end": index * 2.0 + 0.4}],
    )


def _claimed_transcription(uow: UnitOfWork, conversation_id: uuid.UUID) -> uuid.UUID:
    token = uuid.uuid4()
    with uow.autocommit() as claiming:
        now = utc_now()
        claim = claiming.conversations.claim_for_transcription(
            conversation_id, token=token, lease_until=now + timedelta(minutes=5), now=now
        )
    assert claim is not None
    return token


def _store_transcript(
    uow: UnitOfWork,
    conversation_id: uuid.UUID,
    token: uuid.UUID,
    transcript: list[NewSegment],
    speakers: list[str],
    *,
    earlier: bool = False,
) -> bool:
    with uow.autocommit() as writing:
        return writing.conversations.store_transcript(
            conversation_id,
            holder=token,
            transcript=transcript,
            speakers=speakers,
            earlier=earlier,
            lease_expires_at=utc_now() + timedelta(seconds=30),
            language="en",
            word_count=sum(len(segment.text.split()) for segment in transcript),
        )


def _rows(uow: UnitOfWork, conversation_id: uuid.UUID) -> dict[str, Any]:
    with uow:
        session = uow.conversations.session
        conversation = uow.conversations.get(conversation_id)
        segments = session.execute(
            select(
                TranscriptSegment.position,
                TranscriptSegment.text,
                TranscriptSegment.speaker,
                TranscriptSegment.words,
            )
            .where(TranscriptSegment.conversation_id == conversation_id)
            .order_by(TranscriptSegment.position)
        ).all()
        people = session.execute(
            select(Participant.name, Participant.spoken_seconds, Participant.word_count)
            .where(Participant.conversation_id == conversation_id)
            .order_by(Participant.name)
        ).all()
        notes = session.scalars(
            select(Synthesis).where(Synthesis.conversation_id == conversation_id)
        ).one_or_none()
        events = session.execute(
            select(GraphOutboxEvent.event_type, GraphOutboxEvent.payload).where(
                GraphOutboxEvent.conversation_id == conversation_id
            )
        ).all()
    return {
        "events": [tuple(row) for row in events],
        "conversation": conversation,
        "segments": [tuple(row) for row in segments],
        "people": [tuple(row) for row in people],
        "notes": notes,
    }


class TestTranscriptionClaim:
    def test_says_whether_the_recording_is_planned_in_chunks(self, stage_uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(stage_uow)
        other_id = factories.conversation(stage_uow)
        token = _claimed_transcription(stage_uow, conversation_id)
        now = utc_now()
        with stage_uow:
            assert stage_uow.chunks.hand_over(
                conversation_id,
                holder=token,
                spans=[(0.0, 150.0, None), (150.0, 300.0, None)],
                language="en",
                now=now,
                requeue_at=now + timedelta(minutes=5),
            )

        # Handed to its chunks it holds no lease: the next message claims it again.
        with stage_uow.autocommit() as claiming:
            chunked = claiming.conversations.claim_for_transcription(
                conversation_id, token=uuid.uuid4(), lease_until=now + timedelta(minutes=5), now=now
            )
            whole = claiming.conversations.claim_for_transcription(
                other_id, token=uuid.uuid4(), lease_until=now + timedelta(minutes=5), now=now
            )

        assert chunked is not None
        assert chunked.has_chunks
        assert whole is not None
        assert not whole.has_chunks


class TestStoreTranscript:
    def test_moves_the_conversation_with_its_segments_and_new_speakers(
        self, stage_uow: UnitOfWork
    ) -> None:
        conversation_id = factories.conversation(stage_uow)
        factories.participant(stage_uow, conversation_id, "Ann Lee")
        token = _claimed_transcription(stage_uow, conversation_id)
        transcript = [
            _segment(0, "Ship it Friday.", "Ann Lee"),
            _segment(1, "Notes by Thursday.", "Bob Stone"),
            _segment(2, "Agreed then.", "Ann Lee"),
        ]

        assert _store_transcript(stage_uow, conversation_id, token, transcript, ["Bob Stone"])

        rows = _rows(stage_uow, conversation_id)
        conversation = rows["conversation"]
        assert conversation.status is Status.SYNTHESIZING
        assert conversation.lease_token is None
        assert conversation.language == "en"
        assert conversation.word_count == 8
        assert rows["segments"] == [
            (0, "Ship it Friday.", "Ann Lee", [{"word": "Ship", "start": 0.0, "end": 0.4}]),
            (1, "Notes by Thursday.", "Bob Stone", [{"word": "Notes", "start": 2.0, "end": 2.4}]),
            (2, "Agreed then.", "Ann Lee", [{"word": "Agreed", "start": 4.0, "end": 4.4}]),
        ]
        assert [name for name, _, _ in rows["people"]] == ["Ann Lee", "Bob Stone"]

    def test_a_lost_lease_writes_nothing(self, stage_uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(stage_uow)
        _claimed_transcription(stage_uow, conversation_id)

        stored = _store_transcript(
            stage_uow,
            conversation_id,
            uuid.uuid4(),
            [_segment(0, "Hello there.", "Ann Lee")],
            ["Ann Lee"],
        )

        assert not stored
        rows = _rows(stage_uow, conversation_id)
        assert rows["conversation"].status is Status.TRANSCRIBING
        assert rows["segments"] == []
        assert rows["people"] == []

    def test_a_second_run_replaces_a_longer_transcript_and_drops_its_notes(
        self, stage_uow: UnitOfWork
    ) -> None:
        conversation_id = factories.conversation(stage_uow)
        first = [_segment(index, f"Point {index} made.", "Ann Lee") for index in range(4)]
        token = _claimed_transcription(stage_uow, conversation_id)
        assert _store_transcript(stage_uow, conversation_id, token, first, ["Ann Lee"])
        factories.synthesis(stage_uow, conversation_id)
        # The meeting fails later and is retried: its second run transcribes it again.
        with stage_uow:
            assert stage_uow.conversations.transition(
                conversation_id, expected=Status.SYNTHESIZING, target=Status.FAILED
            )
            assert stage_uow.conversations.transition(
                conversation_id, expected=Status.FAILED, target=Status.PENDING
            )
        token = _claimed_transcription(stage_uow, conversation_id)
        second = [
            _segment(0, "Fresh start here.", "Ann Lee"),
            _segment(1, "Second thought now.", "Cy Young"),
        ]

        assert _store_transcript(
            stage_uow, conversation_id, token, second, ["Cy Young"], earlier=True
        )

        rows = _rows(stage_uow, conversation_id)
        assert [(position, text) for position, text, _, _ in rows["segments"]] == [
            (0, "Fresh start here."),
            (1, "Second thought now."),
        ]
        assert rows["notes"] is None
        assert [name for name, _, _ in rows["people"]] == ["Ann Lee", "Cy Young"]


def _claimed_synthesis(uow: UnitOfWork, conversation_id: uuid.UUID) -> uuid.UUID:
    token = uuid.uuid4()
    with uow.autocommit() as claiming:
        now = utc_now()
        claim = claiming.conversations.claim_for_synthesis(
            conversation_id, token=token, lease_until=now + timedelta(minutes=5), now=now
        )
    assert claim is not None
    return token


COMPLETED_AT = datetime(2026, 11, 26, 14, 30, 5, 123456, tzinfo=UTC)


def _complete_with_notes(uow: UnitOfWork, conversation_id: uuid.UUID, token: uuid.UUID) -> bool:
    with uow.autocommit() as writing:
        return writing.conversations.complete_with_notes(
            conversation_id,
            token=token,
            completed_at=COMPLETED_AT,
            event_type="conversation.completed",
            payload={"conversation_id": str(conversation_id)},
            notes={
                "summary": "The beta ships on Friday.",
                "key_decisions": [{"text": "Ship the beta on Friday.", "evidence": None}],
                "action_items": [{"text": "Write the notes", "owner": "Ann Lee"}],
                "open_questions": [],
                "key_topics": ["beta"],
                "provider": "extractive",
                "model": None,
                "seconds": 0.25,
            },
            spoken={"Ann Lee": (12.5, 30)},
        )


class TestCompleteWithNotes:
    def test_stores_the_notes_and_who_spoke_and_completes_with_its_event(
        self, stage_uow: UnitOfWork
    ) -> None:
        conversation_id = factories.conversation_in(stage_uow, Status.SYNTHESIZING)
        factories.participant(stage_uow, conversation_id, "Ann Lee")
        factories.participant(stage_uow, conversation_id, "Bo Diaz", word_count=3)
        token = _claimed_synthesis(stage_uow, conversation_id)

        assert _complete_with_notes(stage_uow, conversation_id, token)

        rows = _rows(stage_uow, conversation_id)
        assert rows["conversation"].status is Status.COMPLETED
        assert rows["conversation"].completed_at == COMPLETED_AT
        assert rows["conversation"].lease_token is None
        assert rows["conversation"].lease_expires_at is None
        assert rows["conversation"].follow_up_due
        assert rows["events"] == [
            ("conversation.completed", {"conversation_id": str(conversation_id)})
        ]
        notes = rows["notes"]
        assert notes is not None
        assert notes.summary == "The beta ships on Friday."
        assert notes.key_decisions == [{"text": "Ship the beta on Friday.", "evidence": None}]
        assert notes.seconds == 0.25
        assert notes.dropped_items == 0
        assert notes.action_items == [{"text": "Write the notes", "owner": "Ann Lee"}]
        assert notes.email_status is EmailStatus.PENDING
        # Who did not speak has no figures, whatever was there before.
        assert rows["people"] == [("Ann Lee", 12.5, 30), ("Bo Diaz", None, None)]

    def test_a_lost_lease_writes_nothing(self, stage_uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(stage_uow, Status.SYNTHESIZING)
        factories.participant(stage_uow, conversation_id, "Ann Lee")
        _claimed_synthesis(stage_uow, conversation_id)

        assert not _complete_with_notes(stage_uow, conversation_id, uuid.uuid4())

        rows = _rows(stage_uow, conversation_id)
        assert rows["conversation"].status is Status.SYNTHESIZING
        assert rows["conversation"].completed_at is None
        assert not rows["conversation"].follow_up_due
        assert rows["events"] == []
        assert rows["conversation"].lease_token is not None
        assert rows["notes"] is None
        assert rows["people"] == [("Ann Lee", None, None)]


class TestCompletionInstant:
    """The graph outbox event says the meeting completed when its row does."""

    def test_a_synthesis(self, stage_uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(stage_uow, Status.SYNTHESIZING)
        factories.participant(stage_uow, conversation_id, "Ann Lee")
        factories.segments(stage_uow, conversation_id, "We ship the beta on Friday.")
        synthesizer = build_synthesizer(Settings())

        outcome = stages.synthesize(conversation_id, uow=stage_uow, synthesizer=synthesizer)

        assert outcome is StageOutcome.DONE
        _assert_completed_when_its_event_says(stage_uow, conversation_id)

    def test_notes_stored_apart_from_the_completion(self, stage_uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(stage_uow, Status.SYNTHESIZING)
        factories.synthesis(stage_uow, conversation_id)

        assert stages.complete(conversation_id, uow=stage_uow) is StageOutcome.DONE

        _assert_completed_when_its_event_says(stage_uow, conversation_id)


def _assert_completed_when_its_event_says(uow: UnitOfWork, conversation_id: uuid.UUID) -> None:
    rows = _rows(uow, conversation_id)
    [(event_type, payload)] = rows["events"]
    assert event_type == "conversation.completed"
    assert rows["conversation"].status is Status.COMPLETED
    assert rows["conversation"].completed_at == datetime.fromisoformat(payload["completed_at"])
