from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from repositories.database import UnitOfWork
from repositories.segments import NewSegment
from tests import factories


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
            rows = uow.segments.list_for_conversation(conversation_id)
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
            assert [r.text for r in uow.segments.list_for_conversation(conversation_id)] == ["uno"]

    def test_end_before_start_is_refused(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with pytest.raises(IntegrityError), uow:
            uow.segments.replace_for_conversation(
                conversation_id, [NewSegment(start=2.0, end=1.0, text="backwards")]
            )


class TestParticipantRepository:
    def test_list_and_get_by_name(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Cy Diaz", is_organizer=True)
        factories.participant(uow, conversation_id, "Ann Lee", email="ann@example.com")
        with uow:
            names = [p.name for p in uow.participants.list_for_conversation(conversation_id)]
            ann = uow.participants.get_by_name(conversation_id, "Ann Lee")
            cy = uow.participants.get_by_name(conversation_id, "Cy Diaz")
        assert names == ["Ann Lee", "Cy Diaz"]
        assert ann is not None
        assert ann.email == "ann@example.com"
        assert ann.is_organizer is False
        assert cy is not None
        assert cy.is_organizer is True

    def test_a_name_appears_once_per_conversation(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Ann Lee")
        with pytest.raises(IntegrityError), uow:
            uow.participants.create(conversation_id=conversation_id, name="Ann Lee")
