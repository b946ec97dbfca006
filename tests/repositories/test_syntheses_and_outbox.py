from __future__ import annotations

from datetime import timedelta

from repositories.database import UnitOfWork
from repositories.models import EmailStatus, utc_now
from tests import factories


class TestSynthesisRepository:
    def test_save_creates_then_replaces(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        first = factories.synthesis(uow, conversation_id, summary="First.")
        second = factories.synthesis(
            uow, conversation_id, summary="Second.", key_decisions=["Ship it"]
        )
        assert first == second
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

    def test_with_decisions_and_with_action_items(self, uow: UnitOfWork) -> None:
        decided = factories.conversation(uow)
        assigned = factories.conversation(uow)
        empty = factories.conversation(uow)
        factories.synthesis(uow, decided, key_decisions=["Launch in March"])
        factories.synthesis(
            uow,
            assigned,
            action_items=[{"text": "Fix the bug", "owner": "Ann Lee", "due": "Friday"}],
        )
        factories.synthesis(uow, empty)
        with uow:
            with_decisions = [s.conversation_id for s in uow.syntheses.list_with_decisions()]
            with_actions = [s.conversation_id for s in uow.syntheses.list_with_action_items()]
        assert with_decisions == [decided]
        assert with_actions == [assigned]

    def test_pending_email_oldest_first(self, uow: UnitOfWork) -> None:
        now = utc_now()
        older, newer, sent = (factories.conversation(uow) for _ in range(3))
        factories.synthesis(uow, newer, created_at=now)
        factories.synthesis(uow, older, created_at=now - timedelta(hours=1))
        factories.synthesis(uow, sent, email_status=EmailStatus.SENT, email_sent_at=now)
        with uow:
            pending = [s.conversation_id for s in uow.syntheses.list_pending_email()]
        assert pending == [older, newer]

    def test_summary_search_is_case_insensitive(self, uow: UnitOfWork) -> None:
        hit = factories.conversation(uow)
        miss = factories.conversation(uow)
        factories.synthesis(uow, hit, summary="The team agreed on the Payment provider.")
        factories.synthesis(uow, miss, summary="Hiring plans.")
        with uow:
            found = [s.conversation_id for s in uow.syntheses.search_summaries("payment PROVIDER")]
        assert found == [hit]


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
            every = uow.graph_outbox.list_for_conversation(conversation_id)
        assert [event.id for event in unprocessed] == [first.id, last]
        assert {event.id for event in every} == {first.id, done.id, last}
        assert unprocessed[1].payload == {"n": 3}
