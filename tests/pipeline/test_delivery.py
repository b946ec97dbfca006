"""Notes by email: the delivery stage on PostgreSQL, `minutes email` and `minutes status` as
users run them, and a meeting through real workers arriving at a real SMTP server (aiosmtpd
on loopback)."""

from __future__ import annotations

import json
import re
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest

from integrations.email.smtp import Mailer, SmtpServer, TransientEmailError
from integrations.synthesis.extractive import ExtractiveSynthesizer
from pipeline import delivery, stages
from pipeline.delivery import DeliveryOutcome
from pipeline.leases import Leases
from pipeline.providers import synthesis_chain
from repositories.database import UnitOfWork
from repositories.models import ConversationStatus, EmailStatus, Synthesis, utc_now
from repositories.segments import NewSegment
from tests.mail import LoopbackServer, Received, smtp_server
from tests.pipeline.test_cli import one_line_error, run
from tests.pipeline.test_graph_sync import database, uow
from tests.pipeline.test_tasks import pending
from tests.workers import Cluster, broker_url, cluster

__all__ = ["broker_url", "cluster", "database", "uow"]  # the fixtures this module uses

SENDER = "Minutes <minutes@example.test>"
LEASES = Leases(seconds=60.0)


def completed_meeting(
    uow: UnitOfWork,
    *,
    status: ConversationStatus = ConversationStatus.COMPLETED,
    emails: bool = True,
) -> uuid.UUID:
    """A completed meeting of three people, two with an email (unless not `emails`), whose
    notes cite the transcript (one segment over an hour in)."""
    with uow:
        conversation = uow.conversations.create(
            source_uri="/recordings/planning.wav",
            title="Release planning",
            status=status,
            started_at=utc_now(),
            completed_at=utc_now() - timedelta(hours=1),
        )
        for name, email in (
            ("Ann Lee", "ann@example.test"),
            ("Bo Diaz", None),
            ("Cy Ng", "cy@example.test"),
        ):
            uow.participants.create(
                conversation_id=conversation.id, name=name, email=email if emails else None
            )
        uow.segments.replace_for_conversation(
            conversation.id,
            [
                NewSegment(start=75.0, end=80.0, text="We ship on Friday.", speaker="Ann Lee"),
                NewSegment(
                    start=3725.0, end=3730.0, text="I will send the survey.", speaker="Cy Ng"
                ),
            ],
        )
        uow.syntheses.create(
            conversation_id=conversation.id,
            summary="The team agreed to ship on Friday.",
            provider="extractive",
            key_decisions=[
                {
                    "text": "Ship on Friday",
                    "evidence": {"segment_ids": [0], "quote": "We ship on Friday"},
                }
            ],
            action_items=[
                {
                    "text": "Send the survey results",
                    "owner": "Cy Ng",
                    "due": "next Monday",
                    "due_date": "2026-12-01",
                    "evidence": {"segment_ids": [1], "quote": "I will send the survey"},
                }
            ],
            open_questions=[{"text": "Who owns the <docs>?", "evidence": None}],
        )
        return conversation.id


def mailer(server: LoopbackServer, *copy_to: str) -> Mailer:
    return Mailer(SmtpServer.parse(server.url), sender=SENDER, copy_to=copy_to, timeout=10.0)


def notes_of(uow: UnitOfWork, conversation_id: uuid.UUID) -> Synthesis:
    with uow:
        synthesis = uow.syntheses.get_by_conversation(conversation_id)
    assert synthesis is not None
    return synthesis


def send(
    uow: UnitOfWork, conversation_id: uuid.UUID, sender: Mailer | None, **options: Any
) -> delivery.Delivery:
    return delivery.send_notes(conversation_id, uow=uow, mailer=sender, leases=LEASES, **options)


def texts(received: Received) -> tuple[str, str]:
    text = received.message.get_body(preferencelist=("plain",))
    html = received.message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


class TestSendNotes:
    def test_the_participants_with_an_email_and_email_to_get_both_parts(
        self, uow: UnitOfWork
    ) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server() as server:
            sent = send(
                uow, conversation_id, mailer(server, "team@example.test", "ann@EXAMPLE.test")
            )
        assert sent.outcome is DeliveryOutcome.SENT
        [received] = server.received
        assert received.recipients == ["ann@example.test", "cy@example.test", "team@example.test"]
        assert received.message["From"] == SENDER
        assert received.message["Subject"].startswith("Notes: Release planning (")
        text, html = texts(received)
        assert "[00:01:15] Ship on Friday" in text
        assert "[01:02:05] Send the survey results (owner: Cy Ng, due 2026-12-01)" in text
        assert "- Who owns the <docs>?" in text
        assert "The team agreed to ship on Friday." in html
        assert "Who owns the &lt;docs&gt;?" in html
        notes = notes_of(uow, conversation_id)
        assert received.message["Message-ID"] == f"<notes.{notes.id}@example.test>"
        assert notes.email_status is EmailStatus.SENT
        assert notes.email_recipients == received.recipients
        assert notes.email_sent_at is not None
        assert notes.email_attempts == 1
        assert notes.email_error is None

    def test_a_redelivered_task_finds_it_sent_and_mails_nothing(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server() as server:
            send(uow, conversation_id, mailer(server))
            again = send(uow, conversation_id, mailer(server))
        assert again.outcome is DeliveryOutcome.FINISHED_BEFORE
        assert len(server.received) == 1

    def test_without_smtp_url_the_delivery_is_recorded_skipped(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        assert send(uow, conversation_id, None).outcome is DeliveryOutcome.SKIPPED
        notes = notes_of(uow, conversation_id)
        assert notes.email_status is EmailStatus.SKIPPED
        assert notes.email_error == "SMTP_URL is not set"

    def test_nobody_to_send_to_is_recorded_skipped(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow, emails=False)
        with smtp_server() as server:
            sent = send(uow, conversation_id, mailer(server))
        assert (sent.outcome, sent.reason) == (DeliveryOutcome.SKIPPED, delivery.NO_RECIPIENTS)
        assert server.received == []

    def test_notes_not_completed_yet_are_not_sent(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow, status=ConversationStatus.SYNTHESIZING)
        with smtp_server() as server:
            sent = send(uow, conversation_id, mailer(server))
        assert sent.outcome is DeliveryOutcome.NOT_COMPLETED
        assert notes_of(uow, conversation_id).email_status is EmailStatus.PENDING

    def test_451_twice_then_accepted_is_delivered_once(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server(replies=("451 4.3.0 busy", "451 4.3.0 still busy")) as server:
            # As the task's retries call it: not the final attempt, the error raised to retry.
            for reply in ("busy", "still busy"):
                with pytest.raises(TransientEmailError, match=reply):
                    send(uow, conversation_id, mailer(server), final_attempt=False)
                notes = notes_of(uow, conversation_id)
                assert notes.email_status is EmailStatus.PENDING
                assert notes.email_claim_token is None  # the retry takes it at once
            sent = send(uow, conversation_id, mailer(server), final_attempt=False)
        assert sent.outcome is DeliveryOutcome.SENT
        assert len(server.received) == 1
        assert server.recorder.refused == 2
        notes = notes_of(uow, conversation_id)
        assert (notes.email_status, notes.email_attempts, notes.email_error) == (
            EmailStatus.SENT,
            3,
            None,
        )

    def test_a_transient_error_on_the_final_attempt_is_recorded_failed(
        self, uow: UnitOfWork
    ) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server(replies=("451 4.3.0 busy",)) as server:
            sent = send(uow, conversation_id, mailer(server))
        assert sent.outcome is DeliveryOutcome.FAILED
        assert (
            notes_of(uow, conversation_id).email_error
            == "451 4.3.0 busy (given up after attempt 1)"
        )

    def test_550_is_recorded_failed_with_the_reason(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server(replies=("550 5.1.1 mailbox unavailable",)) as server:
            sent = send(uow, conversation_id, mailer(server), final_attempt=False)
            again = send(uow, conversation_id, mailer(server), final_attempt=False)
        assert sent.outcome is DeliveryOutcome.FAILED
        assert again.outcome is DeliveryOutcome.FINISHED_BEFORE
        notes = notes_of(uow, conversation_id)
        assert notes.email_status is EmailStatus.FAILED
        assert notes.email_error == "550 5.1.1 mailbox unavailable"
        assert server.received == []

    def test_new_notes_of_a_resynthesis_are_not_mailed_by_themselves(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server() as server:
            send(uow, conversation_id, mailer(server))
            outcome = stages.resynthesize(
                conversation_id, uow=uow, synthesizer=synthesis_chain([ExtractiveSynthesizer()])
            )
            again = send(uow, conversation_id, mailer(server))
        assert outcome is stages.StageOutcome.DONE
        assert again.outcome is DeliveryOutcome.FINISHED_BEFORE
        assert len(server.received) == 1
        assert notes_of(uow, conversation_id).email_status is EmailStatus.SENT


class TestClaims:
    def claim(self, uow: UnitOfWork, conversation_id: uuid.UUID, *, lapsed: bool) -> str:
        """A worker's claim, as it stands when the worker is killed before it sends."""
        now = utc_now()
        with uow:
            claim = uow.syntheses.claim_email(
                conversation_id,
                token=uuid.uuid4(),
                now=now,
                lease_until=now + timedelta(seconds=-1 if lapsed else 60),
                message_id="<notes.first-attempt@example.test>",
            )
        assert claim is not None
        return claim.message_id

    def test_a_claim_held_by_a_live_worker_is_left_to_it(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        self.claim(uow, conversation_id, lapsed=False)
        with smtp_server() as server:
            sent = send(uow, conversation_id, mailer(server))
        assert sent.outcome is DeliveryOutcome.BUSY
        assert sent.retry_in is not None
        assert sent.retry_in > 1
        assert server.received == []

    def test_a_dead_workers_claim_is_taken_over_once_with_its_message_id(
        self, uow: UnitOfWork
    ) -> None:
        conversation_id = completed_meeting(uow)
        first = self.claim(uow, conversation_id, lapsed=True)
        with smtp_server() as server:
            sent = send(uow, conversation_id, mailer(server))
            again = send(uow, conversation_id, mailer(server))
        assert (sent.outcome, again.outcome) == (
            DeliveryOutcome.SENT,
            DeliveryOutcome.FINISHED_BEFORE,
        )
        [received] = server.received
        # Had the dead worker sent it before dying, mail programs show the two as one.
        assert received.message["Message-ID"] == first
        assert notes_of(uow, conversation_id).email_attempts == 2

    def test_a_delivery_that_never_finishes_is_given_up(self, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        for _ in range(LEASES.max_deliveries):
            self.claim(uow, conversation_id, lapsed=True)
        with smtp_server() as server:
            sent = send(uow, conversation_id, mailer(server))
        assert (sent.outcome, sent.reason) == (DeliveryOutcome.FAILED, "given up after 5 attempts")
        assert server.received == []

    def test_the_sweep_sends_again_lapsed_and_lost_deliveries_only(self, uow: UnitOfWork) -> None:
        lapsed = completed_meeting(uow)
        self.claim(uow, lapsed, lapsed=True)
        held = completed_meeting(uow)
        self.claim(uow, held, lapsed=False)
        lost = completed_meeting(uow)  # completed an hour ago, never claimed: its message lost
        sent = completed_meeting(uow)
        send(uow, sent, None)
        assert sorted(delivery.take_due_deliveries(uow=uow, leases=LEASES, limit=10)) == sorted(
            [lapsed, lost]
        )
        # Each is looked at again only a lease later.
        assert delivery.take_due_deliveries(uow=uow, leases=LEASES, limit=10) == []
        # And the message the sweep sent takes it at once.
        with smtp_server() as server:
            assert send(uow, lapsed, mailer(server)).outcome is DeliveryOutcome.SENT


class TestEmailCommand:
    def test_email_sends_again_to_the_addresses_given(self, database: str, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server() as server:
            first = send(uow, conversation_id, mailer(server))
            env = {"SMTP_URL": server.url, "EMAIL_FROM": SENDER}
            to = ["--to", "Dee <dee@example.test>", "--to", "eve@example.test"]
            result = run("email", str(conversation_id), *to, database_url=database, env=env)
        assert first.outcome is DeliveryOutcome.SENT
        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            f"conversation {conversation_id}: notes sent to dee@example.test, eve@example.test\n"
        )
        resent = server.received[1]
        assert resent.recipients == ["dee@example.test", "eve@example.test"]
        assert resent.message["Message-ID"] != server.received[0].message["Message-ID"]

        status = run("status", str(conversation_id), "--json", database_url=database)
        document = json.loads(status.stdout)
        assert document["email_status"] == "sent"
        assert document["email_recipients"] == ["dee@example.test", "eve@example.test"]
        assert document["email_sent_at"] is not None
        assert document["email_reason"] is None
        table = run("status", str(conversation_id), database_url=database).stdout
        assert re.search(r"email_recipients +dee@example\.test; eve@example\.test *\n", table)

    def test_a_refusal_is_one_line_with_the_reason(self, database: str, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        with smtp_server(replies=("550 5.7.1 relaying denied",)) as server:
            env = {"SMTP_URL": server.url, "EMAIL_FROM": SENDER}
            result = run("email", str(conversation_id), database_url=database, env=env)
        assert result.returncode == 1
        assert result.stderr == (
            f"error: conversation {conversation_id}: sending failed: 550 5.7.1 relaying denied\n"
        )
        status = json.loads(
            run("status", str(conversation_id), "--json", database_url=database).stdout
        )
        assert (status["email_status"], status["email_reason"]) == (
            "failed",
            "550 5.7.1 relaying denied",
        )

    def test_without_smtp_url_it_says_so(self, database: str, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow)
        result = run("email", str(conversation_id), database_url=database)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"conversation {conversation_id}: not sent (SMTP_URL is not set)\n"

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            (["nonsense"], "is not a conversation id"),
            ([str(uuid.UUID(int=7))], "no conversation has id"),
            (["{id}", "--to", "not an address <>"], "--to"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(
        self, database: str, uow: UnitOfWork, arguments: list[str], message: str
    ) -> None:
        conversation_id = completed_meeting(uow)
        given = [argument.format(id=conversation_id) for argument in arguments]
        assert message in one_line_error(run("email", *given, database_url=database))

    def test_a_meeting_not_completed_is_refused(self, database: str, uow: UnitOfWork) -> None:
        conversation_id = completed_meeting(uow, status=ConversationStatus.SYNTHESIZING)
        error = one_line_error(run("email", str(conversation_id), database_url=database))
        assert error.endswith("is synthesizing; only completed meetings' notes are sent")


class TestThroughWorkers:
    def test_a_completed_meeting_arrives_by_mail(self, cluster: Cluster) -> None:
        with smtp_server() as server:
            cluster.worker(
                queues="transcription,synthesis,graph,email,celery",
                SMTP_URL=server.url,
                EMAIL_FROM=SENDER,
                EMAIL_TO="team@example.test",
            )
            conversation_id = pending(cluster)
            with cluster.uow as uow:
                uow.participants.create(
                    conversation_id=conversation_id, name="Ann Lee", email="ann@example.test"
                )
            cluster.send("pipeline.transcribe", conversation_id)
            cluster.wait_for(
                conversation_id,
                ConversationStatus.COMPLETED,
                until=lambda conversation: (
                    notes_of(cluster.uow, conversation.id).email_status is EmailStatus.SENT
                ),
            )
        [received] = server.received
        assert received.recipients == ["ann@example.test", "team@example.test"]
        assert received.message["Subject"].startswith("Notes: Release planning (")
        text, html = texts(received)
        assert "Summary" in text
        assert "<h2>Summary</h2>" in html

    def test_a_worker_killed_between_claim_and_send_mails_once_after_recovery(
        self, cluster: Cluster
    ) -> None:
        sending, go = threading.Event(), threading.Event()
        with smtp_server(hold=(sending, go)) as server:
            doomed = cluster.worker(
                queues="transcription,synthesis,graph,email,celery",
                SMTP_URL=server.url,
                EMAIL_FROM=SENDER,
            )
            conversation_id = pending(cluster)
            with cluster.uow as uow:
                uow.participants.create(
                    conversation_id=conversation_id, name="Ann Lee", email="ann@example.test"
                )
            cluster.send("pipeline.transcribe", conversation_id)
            # Claimed, connected, not sent yet: the server holds it at MAIL FROM.
            assert sending.wait(60), doomed.output()
            doomed.kill()
            go.set()
            # The sweep finds the claim lapsed and sends the task again; this one sends.
            cluster.worker(queues="email,celery", beat=True, SMTP_URL=server.url, EMAIL_FROM=SENDER)
            cluster.wait_for(
                conversation_id,
                ConversationStatus.COMPLETED,
                until=lambda conversation: (
                    notes_of(cluster.uow, conversation.id).email_status is EmailStatus.SENT
                ),
            )
        assert len(server.received) == 1
        assert notes_of(cluster.uow, conversation_id).email_attempts == 2
