from __future__ import annotations

from datetime import timedelta

from repositories.database import UnitOfWork
from repositories.models import EmailStatus, utc_now
from tests import factories


class TestSynthesisRepository:
    def test_new_notes_replace_stale_ones(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.synthesis(uow, conversation_id, summary="First.")
        with uow:  # as a rerun of the stages does it
            uow.syntheses.delete_for_conversation(conversation_id)
        factories.synthesis(uow, conversation_id, summary="Second.", key_decisions=["Ship it"])
        with uow:
            synthesis = uow.syntheses.get_by_conversation(conversation_id)
            assert uow.syntheses.count() == 1
        assert synthesis is not None
        assert synthesis.summary == "Second."
        assert synthesis.key_decisions == ["Ship it"]
        assert synthesis.email_status is EmailStatus.PENDING

    def test_by_conversation_of_one_without_notes(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with uow:
            assert uow.syntheses.get_by_conversation(conversation_id) is None


class TestGraphOutboxRepository:
    def test_events_in_order_and_unprocessed_only(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        now = utc_now()
        with uow:
            first = uow.graph_outbox.create(
                conversation_id=conversation_id,
                event_type="conversation.completed",
                payload={"n": 1},
                created_at=now - timedelta(seconds=5),
            )
            done = uow.graph_outbox.create(
                conversation_id=conversation_id,
                event_type="conversation.completed",
                payload={"n": 2},
                processed_at=now,
            )
            last = uow.graph_outbox.add_event(conversation_id, "conversation.completed", {"n": 3})
        with uow:
            unprocessed = uow.graph_outbox.claim_pending(limit=10)
            every = uow.graph_outbox.list(limit=10)
        assert [event.id for event in unprocessed] == [first.id, last]
        assert {event.id for event in every} == {first.id, done.id, last}
        assert unprocessed[1].payload == {"n": 3}
