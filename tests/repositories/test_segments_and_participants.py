from __future__ import annotations

import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from repositories.database import UnitOfWork
from repositories.models import Conversation
from repositories.segments import NewSegment
from tests import factories


def _transcript(uow: UnitOfWork, conversation_id: uuid.UUID) -> Conversation:
    conversation = uow.conversations.get_with_transcript(conversation_id)
    assert conversation is not None
    return conversation


class TestTranscriptSegmentRepository:
    def test_replace_writes_ordered_segments_with_words(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        words = [{"text": "Hello", "start": 0.1, "end": 0.4, "probability": 0.9}]
        with uow:
            written = uow.segments.replace_for_conversation(
                conversation_id,
                [
                    NewSegment(start=0.0, end=1.0, text="Hello.", speaker="Ann", words=words),
                    NewSegment(start=1.2, end=2.0, text="Hi Ann."),
                ],
            )
        assert written == 2
        with uow:
            rows = _transcript(uow, conversation_id).segments
        assert [(r.position, r.text, r.speaker) for r in rows] == [
            (0, "Hello.", "Ann"),
            (1, "Hi Ann.", None),
        ]
        assert rows[0].words == words

    def test_replace_twice_leaves_only_the_second(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.segments(uow, conversation_id, "one", "two", "three")
        factories.segments(uow, conversation_id, "uno")
        with uow:
            assert [r.text for r in _transcript(uow, conversation_id).segments] == ["uno"]

    def test_end_before_start_is_refused(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with pytest.raises(IntegrityError), uow:
            uow.segments.replace_for_conversation(
                conversation_id, [NewSegment(start=2.0, end=1.0, text="backwards")]
            )


class TestParticipantRepository:
    def test_people_are_stored_with_their_details(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Cy Diaz", is_organizer=True)
        factories.participant(uow, conversation_id, "Ann Lee", email="ann@example.com")
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            people = {(p.name, p.email, p.is_organizer) for p in conversation.participants}
        assert people == {("Ann Lee", "ann@example.com", False), ("Cy Diaz", None, True)}

    def test_a_name_appears_once_per_conversation(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Ann Lee")
        with pytest.raises(IntegrityError), uow:
            uow.participants.create(conversation_id=conversation_id, name="Ann Lee")
