from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.exc import IntegrityError

from repositories.base import NotFoundError
from repositories.conversations import IllegalTransitionError
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import (
    Conversation,
    ConversationStatus,
    GraphOutboxEvent,
    Participant,
    Synthesis,
    TranscriptSegment,
    utc_now,
)
from tests import factories

Status = ConversationStatus


class TestGenericOperations:
    def test_create_and_get_by_id(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, title="Quarterly planning")
        with uow:
            conversation = uow.conversations.get_by_id(conversation_id)
        assert conversation is not None
        assert conversation.title == "Quarterly planning"
        assert conversation.status is Status.PENDING
        assert conversation.attempts == 0
        assert conversation.created_at.tzinfo is not None

    def test_get_by_id_of_unknown_id_is_none_and_get_raises(self, uow: UnitOfWork) -> None:
        unknown = uuid.uuid4()
        with uow:
            assert uow.conversations.get_by_id(unknown) is None
            with pytest.raises(NotFoundError, match=str(unknown)):
                uow.conversations.get(unknown)

    def test_list_pages_newest_first(self, uow: UnitOfWork) -> None:
        now = utc_now()
        ids = [
            factories.conversation(uow, title=f"m{i}", created_at=now - timedelta(minutes=i))
            for i in range(5)
        ]
        with uow:
            first = uow.conversations.list(limit=2)
            second = uow.conversations.list(limit=2, offset=2)
        assert [row.id for row in first] == ids[:2]
        assert [row.id for row in second] == ids[2:4]

    def test_count_exists_delete(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with uow:
            assert uow.conversations.count() == 1
            assert uow.conversations.exists(conversation_id)
            uow.conversations.delete(uow.conversations.get(conversation_id))
        with uow:
            assert not uow.conversations.exists(conversation_id)
            assert uow.conversations.count() == 0

    def test_a_failed_block_rolls_back(self, uow: UnitOfWork) -> None:
        def write_then_fail() -> None:
            with uow:
                uow.conversations.create(source_uri="/a.wav")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            write_then_fail()
        with uow:
            assert uow.conversations.count() == 0


class TestConversationQueries:
    def test_list_by_status(self, uow: UnitOfWork) -> None:
        failed = factories.conversation_in(uow, Status.FAILED)
        factories.conversation_in(uow, Status.PENDING)
        with uow:
            rows = uow.conversations.list_by_status(Status.FAILED)
        assert [row.id for row in rows] == [failed]

    def test_by_platform_meeting_id(self, uow: UnitOfWork) -> None:
        wanted = factories.conversation(uow, platform="zoom", platform_meeting_id="884-1")
        factories.conversation(uow, platform="teams", platform_meeting_id="884-1")
        with uow:
            found = uow.conversations.get_by_platform_meeting_id("zoom", "884-1")
            missing = uow.conversations.get_by_platform_meeting_id("zoom", "000")
        assert found is not None
        assert found.id == wanted
        assert missing is None

    def test_platform_meeting_id_is_unique_per_platform(self, uow: UnitOfWork) -> None:
        factories.conversation(uow, platform="zoom", platform_meeting_id="884-1")
        with pytest.raises(IntegrityError), uow:
            uow.conversations.create(
                source_uri="/b.wav", platform="zoom", platform_meeting_id="884-1"
            )

    def test_recent(self, uow: UnitOfWork) -> None:
        now = utc_now()
        old = factories.conversation(uow, created_at=now - timedelta(days=2))
        new = factories.conversation(uow, created_at=now)
        with uow:
            assert [row.id for row in uow.conversations.list_recent(limit=1)] == [new]
            assert [row.id for row in uow.conversations.list_recent()] == [new, old]

    def test_a_completed_meeting_awaits_its_follow_up_until_followed_up(
        self, uow: UnitOfWork
    ) -> None:
        # Only a completed meeting's items are followed up, whatever its flag says.
        factories.conversation_in(uow, Status.SYNTHESIZING, follow_up_due=True)
        with uow:
            assert not uow.conversations.any_due_for_follow_up()
        completed = factories.conversation_in(uow, Status.COMPLETED, follow_up_due=True)
        with uow:
            assert uow.conversations.any_due_for_follow_up()
            assert uow.conversations.due_for_follow_up(limit=10) == [completed]
            uow.conversations.followed_up([completed])
        with uow:
            assert not uow.conversations.any_due_for_follow_up()

    def test_with_transcript_loads_the_participants_eagerly(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Bo Chen", email="bo@example.com")
        factories.participant(uow, conversation_id, "Ann Lee")
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
        assert conversation is not None
        assert [p.name for p in conversation.participants] == ["Ann Lee", "Bo Chen"]

    def test_relationships_never_load_implicitly(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with uow:
            conversation = uow.conversations.get(conversation_id)
            with pytest.raises(Exception, match="lazy='raise'"):
                _ = conversation.participants


class TestTransitions:
    def test_compare_and_set_moves_and_stamps(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        with uow:
            moved = uow.conversations.transition(
                conversation_id, expected=Status.PENDING, target=Status.TRANSCRIBING
            )
        assert moved
        with uow:
            row = uow.conversations.get(conversation_id)
        assert row.status is Status.TRANSCRIBING
        assert row.transcribing_at is not None

    def test_wrong_expected_state_changes_nothing(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(uow, Status.SYNTHESIZING)
        with uow:
            moved = uow.conversations.transition(
                conversation_id, expected=Status.PENDING, target=Status.TRANSCRIBING
            )
            assert not moved
            assert uow.conversations.get(conversation_id).status is Status.SYNTHESIZING

    @pytest.mark.parametrize(
        ("source", "target"),
        [
            (Status.PENDING, Status.COMPLETED),
            (Status.COMPLETED, Status.FAILED),
            (Status.COMPLETED, Status.PENDING),
            (Status.FAILED, Status.TRANSCRIBING),
            (Status.SYNTHESIZING, Status.TRANSCRIBING),
        ],
    )
    def test_illegal_transition_raises(
        self, uow: UnitOfWork, source: ConversationStatus, target: ConversationStatus
    ) -> None:
        conversation_id = factories.conversation_in(uow, source)
        with uow, pytest.raises(IllegalTransitionError, match=f"from {source} to {target}"):
            uow.conversations.transition(conversation_id, expected=source, target=target)

    def test_failed_goes_back_to_pending(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(uow, Status.FAILED, error_message="x")
        with uow:
            assert uow.conversations.transition(
                conversation_id, expected=Status.FAILED, target=Status.PENDING, error_message=None
            )
        with uow:
            row = uow.conversations.get(conversation_id)
        assert row.status is Status.PENDING
        assert row.error_message is None


class TestLeases:
    def test_claiming_a_pending_conversation_starts_its_transcription(
        self, uow: UnitOfWork
    ) -> None:
        conversation_id = factories.conversation(uow)
        token, now = uuid.uuid4(), utc_now()
        with uow:
            claim = uow.conversations.claim_for_transcription(
                conversation_id, token=token, lease_until=now + timedelta(minutes=5), now=now
            )
            row = uow.conversations.get(conversation_id)
        assert claim is not None
        assert (claim.deliveries, claim.attempts, claim.source_uri, claim.title) == (
            1,
            1,
            row.source_uri,
            row.title,
        )
        assert claim.is_first
        assert row.status is Status.TRANSCRIBING
        assert row.lease_token == token
        assert row.lease_expires_at == now + timedelta(minutes=5)
        assert row.attempts == 1
        assert row.progress == 0

    def test_a_claim_reads_its_own_participants_in_order(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        other = factories.conversation(uow)
        for name in ("Cy Diaz", "Ann Lee", "Bo Chen"):
            factories.participant(uow, conversation_id, name)
        factories.participant(uow, other, "Dee Ekwueme")
        alone = factories.conversation(uow)
        now = utc_now()
        with uow:
            claim = uow.conversations.claim_for_transcription(
                conversation_id, token=uuid.uuid4(), lease_until=now + timedelta(minutes=5), now=now
            )
            nobody = uow.conversations.claim_for_transcription(
                alone, token=uuid.uuid4(), lease_until=now, now=now
            )
        assert claim is not None
        assert claim.participants == ["Ann Lee", "Bo Chen", "Cy Diaz"]
        assert nobody is not None
        assert nobody.participants == []

    def test_a_synthesis_claim_reads_its_transcript_in_order(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation_in(uow, Status.SYNTHESIZING)
        factories.segments(uow, conversation_id, "First things first.", "Then the rest.")
        factories.segments(uow, factories.conversation(uow), "Another meeting.")
        now = utc_now()
        with uow:
            claim = uow.conversations.claim_for_synthesis(
                conversation_id, token=uuid.uuid4(), lease_until=now + timedelta(minutes=5), now=now
            )
            stored = uow.segments.list_spoken(conversation_id)
        assert claim is not None
        assert claim.transcript == stored
        assert [segment.text for segment in claim.transcript] == [
            "First things first.",
            "Then the rest.",
        ]
        assert all(isinstance(segment.start, float) for segment in claim.transcript)

    def test_a_live_lease_keeps_others_out_and_a_lapsed_one_is_taken_over(
        self, uow: UnitOfWork
    ) -> None:
        conversation_id = factories.conversation(uow)
        now = utc_now()
        first, second = uuid.uuid4(), uuid.uuid4()
        with uow:
            uow.conversations.claim_for_transcription(
                conversation_id, token=first, lease_until=now + timedelta(seconds=30), now=now
            )
        with uow:
            # A second delivery while the first worker is alive and renewing.
            assert (
                uow.conversations.claim_for_transcription(
                    conversation_id, token=second, lease_until=now + timedelta(minutes=5), now=now
                )
                is None
            )
        later = now + timedelta(minutes=1)  # the first worker stopped renewing: it died
        with uow:
            claim = uow.conversations.claim_for_transcription(
                conversation_id, token=second, lease_until=later + timedelta(minutes=5), now=later
            )
            row = uow.conversations.get(conversation_id)
        assert claim is not None
        assert claim.deliveries == 2
        assert not claim.is_first  # a takeover replaces what the first worker may have left
        assert row.lease_token == second
        assert row.attempts == 1  # the same run of the pipeline, taken over

    def test_only_the_holder_renews_releases_or_finishes(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        now = utc_now()
        holder, stranger = uuid.uuid4(), uuid.uuid4()
        with uow:
            uow.conversations.claim_for_transcription(
                conversation_id, token=holder, lease_until=now + timedelta(seconds=30), now=now
            )
        later = now + timedelta(minutes=2)
        with uow:
            assert not uow.conversations.renew_lease(
                conversation_id, token=stranger, lease_until=later, progress=50
            )
            assert not uow.conversations.release_lease(
                conversation_id, token=stranger, requeue_at=later
            )
            assert not uow.conversations.transition(
                conversation_id,
                expected=Status.TRANSCRIBING,
                target=Status.SYNTHESIZING,
                holder=stranger,
            )
            assert uow.conversations.renew_lease(
                conversation_id, token=holder, lease_until=later, progress=50
            )
        with uow:
            row = uow.conversations.get(conversation_id)
            assert (row.status, row.lease_expires_at, row.progress) == (
                Status.TRANSCRIBING,
                later,
                50,
            )
            assert uow.conversations.release_lease(conversation_id, token=holder, requeue_at=later)
        with uow:
            row = uow.conversations.get(conversation_id)
        assert row.lease_token is None
        assert row.lease_expires_at == later

    def test_a_new_state_starts_unclaimed(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow)
        token, now = uuid.uuid4(), utc_now()
        due = now + timedelta(minutes=30)
        with uow:
            uow.conversations.claim_for_transcription(
                conversation_id, token=token, lease_until=now + timedelta(minutes=5), now=now
            )
            assert uow.conversations.transition(
                conversation_id,
                expected=Status.TRANSCRIBING,
                target=Status.SYNTHESIZING,
                holder=token,
                lease_expires_at=due,
            )
        with uow:
            row = uow.conversations.get(conversation_id)
            assert (row.lease_token, row.lease_expires_at, row.deliveries, row.progress) == (
                None,
                due,
                0,
                None,
            )
            claim = uow.conversations.claim_for_synthesis(
                conversation_id, token=uuid.uuid4(), lease_until=due, now=now
            )
        assert claim is not None
        assert claim.deliveries == 1

    def test_synthesis_is_not_claimed_once_its_notes_are_stored(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, status=Status.SYNTHESIZING)
        factories.synthesis(uow, conversation_id)
        now = utc_now()
        with uow:
            claim = uow.conversations.claim_for_synthesis(
                conversation_id, token=uuid.uuid4(), lease_until=now, now=now
            )
            completed = uow.conversations.complete(
                conversation_id, completed_at=now, event_type="conversation.completed", payload={}
            )
        assert claim is None
        assert completed

    def test_completing_writes_its_outbox_event_once(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, status=Status.SYNTHESIZING)
        factories.synthesis(uow, conversation_id)
        now = utc_now()
        with uow:
            for _ in range(2):  # a redelivered message completes nothing again
                uow.conversations.complete(
                    conversation_id,
                    completed_at=now,
                    event_type="conversation.completed",
                    payload={"n": 1},
                )
        with uow:
            conversation = uow.conversations.get(conversation_id)
            events = [
                (event.event_type, event.payload)
                for event in uow.graph_outbox.list(limit=1000)
                if event.conversation_id == conversation_id
            ]
        assert (conversation.status, conversation.completed_at) == (Status.COMPLETED, now)
        assert events == [("conversation.completed", {"n": 1})]

    def test_completing_needs_the_notes(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, status=Status.SYNTHESIZING)
        with uow:
            assert not uow.conversations.complete(
                conversation_id,
                completed_at=utc_now(),
                event_type="conversation.completed",
                payload={},
            )
            assert uow.conversations.get(conversation_id).status is Status.SYNTHESIZING
            assert uow.graph_outbox.count(GraphOutboxEvent.conversation_id == conversation_id) == 0

    def test_the_sweep_takes_lapsed_unfinished_conversations_once(self, uow: UnitOfWork) -> None:
        now = utc_now()
        past, future = now - timedelta(seconds=1), now + timedelta(minutes=5)
        lost_message = factories.conversation(uow, lease_expires_at=past)
        dead_worker = factories.conversation(
            uow, status=Status.TRANSCRIBING, lease_token=uuid.uuid4(), lease_expires_at=past
        )
        waiting = factories.conversation(uow, status=Status.SYNTHESIZING, lease_expires_at=future)
        finished = factories.conversation(uow, status=Status.COMPLETED, lease_expires_at=past)
        never_queued = factories.conversation(uow)
        requeue_at = now + timedelta(minutes=30)

        with uow:
            stuck = uow.conversations.claim_stuck(now=now, requeue_at=requeue_at, limit=10)
        with uow:
            again = uow.conversations.claim_stuck(now=now, requeue_at=requeue_at, limit=10)
            dead = uow.conversations.get(dead_worker)

        assert {(s.id, s.status, s.leased) for s in stuck} == {
            (lost_message, Status.PENDING, False),
            (dead_worker, Status.TRANSCRIBING, True),
        }
        assert again == []
        # The dead worker's token is void: were it only slow, its final write now fails.
        assert dead.lease_token is None
        assert dead.lease_expires_at == requeue_at
        assert {waiting, finished, never_queued}.isdisjoint(s.id for s in stuck)

    def test_the_sweep_takes_at_most_its_limit(self, uow: UnitOfWork) -> None:
        past = utc_now() - timedelta(seconds=1)
        for _ in range(3):
            factories.conversation(uow, lease_expires_at=past)
        with uow:
            stuck = uow.conversations.claim_stuck(
                now=utc_now(), requeue_at=utc_now() + timedelta(minutes=1), limit=2
            )
        assert len(stuck) == 2

    def test_idempotency_keys_are_unique(self, uow: UnitOfWork) -> None:
        conversation_id = factories.conversation(uow, idempotency_key="upload-42")
        with uow:
            found = uow.conversations.get_by_idempotency_key("upload-42")
            assert uow.conversations.get_by_idempotency_key("upload-43") is None
        assert found is not None
        assert found.id == conversation_id
        with pytest.raises(IntegrityError):
            factories.conversation(uow, idempotency_key="upload-42")


class TestConcurrentClaims:
    """Two real sessions on two connections race for the same conversation."""

    def test_exactly_one_of_two_workers_claims(self, engine: Engine) -> None:
        factory = create_session_factory(engine)
        with UnitOfWork(factory) as uow:
            conversation_id = uow.conversations.create(source_uri="/race.wav").id
        barrier = threading.Barrier(2)
        results: list[bool] = []

        def claim() -> None:
            with UnitOfWork(factory) as uow:
                uow.conversations.get(conversation_id)  # both read "pending" first
                barrier.wait(timeout=10)
                results.append(
                    uow.conversations.transition(
                        conversation_id, expected=Status.PENDING, target=Status.TRANSCRIBING
                    )
                )

        try:
            workers = [threading.Thread(target=claim) for _ in range(2)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(timeout=30)
            assert sorted(results) == [False, True]
            with UnitOfWork(factory) as uow:
                assert uow.conversations.get(conversation_id).status is Status.TRANSCRIBING
        finally:
            with UnitOfWork(factory) as uow:
                uow.conversations.delete(uow.conversations.get(conversation_id))


class TestCascades:
    def test_deleting_a_conversation_deletes_everything_it_owns(
        self, uow: UnitOfWork, connection: Connection
    ) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Ann Lee")
        factories.segments(uow, conversation_id, "Hello.", "Bye.")
        factories.synthesis(uow, conversation_id)
        with uow:
            uow.graph_outbox.add_event(conversation_id, "conversation.completed", {})
        with uow:
            uow.conversations.delete(uow.conversations.get(conversation_id))
        for model in (Participant, TranscriptSegment, Synthesis, GraphOutboxEvent):
            remaining = connection.scalars(
                select(model.id).where(model.conversation_id == conversation_id)
            ).all()
            assert remaining == [], model.__tablename__

    def test_foreign_keys_cascade_without_the_orm(
        self, uow: UnitOfWork, connection: Connection
    ) -> None:
        conversation_id = factories.conversation(uow)
        factories.participant(uow, conversation_id, "Ann Lee")
        factories.segments(uow, conversation_id, "Hello.")
        connection.execute(delete(Conversation).where(Conversation.id == conversation_id))
        with uow:
            assert uow.participants.count(Participant.conversation_id == conversation_id) == 0
            assert uow.segments.count(TranscriptSegment.conversation_id == conversation_id) == 0
