"""The stage tasks on real workers: Redis as broker, PostgreSQL as the record.

Delivery is at least once and workers die; these tests deliver twice, kill workers
mid-stage, lose the broker's messages, and check that every meeting still ends with one
transcript, one set of notes and one graph event.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from neo4j import Driver
from sqlalchemy import func, select

from integrations.audio_sources import AudioSources
from integrations.graph.writer import GraphWriter
from pipeline import stages
from pipeline.config import Settings
from pipeline.leases import Leases
from pipeline.providers import synthesis_chain
from pipeline.queued import QueueRecords
from repositories.models import (
    ConversationStatus,
    GraphOutboxEvent,
    Synthesis,
    TranscriptSegment,
    utc_now,
)
from tests.audio import silence
from tests.fakes import TRANSCRIPT, CountingSynthesizer, InstantTranscriber
from tests.workers import Cluster, broker_url, cluster, redis_client

__all__ = ["broker_url", "cluster"]  # the fixtures this module uses

Status = ConversationStatus


def pending(cluster: Cluster, *, requeue_in: float = 1800.0) -> uuid.UUID:
    """A stored pending conversation, its recording in the audio root, due by `requeue_in`."""
    recording = cluster.audio_root / f"{uuid.uuid4().hex}.wav"
    silence(recording, seconds=1.0)
    with cluster.uow as uow:
        return uow.conversations.create(
            source_uri=str(recording),
            title="Release planning",
            lease_expires_at=utc_now() + timedelta(seconds=requeue_in),
        ).id


def rows(
    cluster: Cluster,
    model: type[TranscriptSegment | Synthesis],
    conversation_id: uuid.UUID,
) -> int:
    statement = (
        select(func.count()).select_from(model).where(model.conversation_id == conversation_id)
    )
    with cluster.engine.connect() as connection:
        return connection.scalar(statement) or 0


def completions(cluster: Cluster, conversation_id: uuid.UUID) -> int:
    """The conversation's completion events (a later meeting following up its action items
    adds events of another kind)."""
    statement = (
        select(func.count())
        .select_from(GraphOutboxEvent)
        .where(
            GraphOutboxEvent.conversation_id == conversation_id,
            GraphOutboxEvent.event_type == stages.GRAPH_EVENT_COMPLETED,
        )
    )
    with cluster.engine.connect() as connection:
        return connection.scalar(statement) or 0


def assert_finished_once(cluster: Cluster, conversation_id: uuid.UUID) -> None:
    assert rows(cluster, TranscriptSegment, conversation_id) == len(TRANSCRIPT.segments)
    assert rows(cluster, Synthesis, conversation_id) == 1
    assert completions(cluster, conversation_id) == 1


def calls(cluster: Cluster, provider: str) -> int:
    counter = cluster.state / provider
    return int(counter.read_text()) if counter.exists() else 0


class TestStageTasks:
    def test_a_queued_conversation_goes_through_every_stage(self, cluster: Cluster) -> None:
        cluster.worker()
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)

        done = cluster.wait_for(conversation_id, Status.COMPLETED)
        assert_finished_once(cluster, conversation_id)
        assert done.attempts == 1
        # Finished: nothing owed, so no lease for the recovery sweep to find.
        assert (done.lease_token, done.lease_expires_at, done.progress) == (None, None, None)
        assert done.transcribing_at is not None
        assert done.synthesizing_at is not None

    def test_the_same_message_delivered_twice_runs_once(self, cluster: Cluster) -> None:
        cluster.worker()
        conversation_id = pending(cluster)
        task_id = str(uuid.uuid4())

        cluster.send("pipeline.transcribe", conversation_id, task_id=task_id)
        cluster.send("pipeline.transcribe", conversation_id, task_id=task_id)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        time.sleep(1.0)  # the second delivery's run, after the first
        assert_finished_once(cluster, conversation_id)
        assert calls(cluster, "transcriptions") == 1
        assert calls(cluster, "syntheses") == 1

    def test_two_workers_given_the_same_conversation_at_once(self, cluster: Cluster) -> None:
        cluster.worker(transcriber="slow")
        cluster.worker(transcriber="slow")
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)
        cluster.send("pipeline.transcribe", conversation_id)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        time.sleep(1.0)
        assert_finished_once(cluster, conversation_id)
        # The second worker found the stage leased and did not transcribe at all.
        assert calls(cluster, "transcriptions") == 1
        assert calls(cluster, "syntheses") == 1


class TestWorkerCrashes:
    def test_a_worker_killed_mid_transcription(self, cluster: Cluster) -> None:
        first = cluster.worker(transcriber="stuck")
        conversation_id = pending(cluster)
        cluster.send("pipeline.transcribe", conversation_id)
        # Hung inside the transcription, its progress reported through the heartbeat.
        cluster.wait_for(conversation_id, Status.TRANSCRIBING, until=lambda c: c.progress == 40)

        first.kill()
        cluster.worker(transcriber="stuck", beat=True)

        done = cluster.wait_for(conversation_id, Status.COMPLETED)
        assert_finished_once(cluster, conversation_id)
        assert calls(cluster, "transcriptions") == 2
        assert done.attempts == 1  # one run of the pipeline, its stage taken over once

    def test_a_worker_killed_mid_synthesis(self, cluster: Cluster) -> None:
        first = cluster.worker(synthesizer="stuck")
        conversation_id = pending(cluster)
        cluster.send("pipeline.transcribe", conversation_id)
        cluster.wait_for(
            conversation_id, Status.SYNTHESIZING, until=lambda c: c.lease_token is not None
        )
        deadline = time.monotonic() + 30
        while calls(cluster, "syntheses") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)

        first.kill()
        cluster.worker(synthesizer="stuck", beat=True)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        assert_finished_once(cluster, conversation_id)
        assert calls(cluster, "transcriptions") == 1
        assert calls(cluster, "syntheses") == 2

    def test_a_stage_that_keeps_killing_its_worker_is_failed(self, cluster: Cluster) -> None:
        cluster.worker(transcriber="killer", beat=True, MAX_DELIVERIES="2")
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)

        failed = cluster.wait_for(conversation_id, Status.FAILED)
        assert failed.error_message is not None
        assert failed.error_message.startswith("gave up after 2 tries: the worker was lost")
        assert calls(cluster, "transcriptions") == 2
        assert rows(cluster, TranscriptSegment, conversation_id) == 0


def wait_for_sweeps(cluster: Cluster, conversation_id: uuid.UUID, sweeps: int) -> None:
    """Until `sweeps` sweeps have looked at a queued conversation: each leaves it due later."""
    due: set[object] = set()
    deadline = time.monotonic() + 60.0
    while len(due) <= sweeps:
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {w.name}\n{w.output()}" for w in cluster.workers)
            pytest.fail(f"no sweep looked at {conversation_id} {sweeps} times\n{logs}")
        with cluster.uow as uow:
            conversation = uow.conversations.get(conversation_id)
        assert conversation.status is Status.PENDING
        due.add(conversation.lease_expires_at)
        time.sleep(0.1)


class TestBrokerLoss:
    def test_a_pending_conversation_whose_message_was_lost_is_sent_again(
        self, cluster: Cluster
    ) -> None:
        conversation_id = pending(cluster, requeue_in=1.0)
        cluster.send("pipeline.transcribe", conversation_id)
        broker = redis_client(cluster.broker_url)
        assert broker.llen("transcription") == 1
        broker.flushdb()  # Redis restarted with nothing on disk

        cluster.worker(beat=True)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        assert_finished_once(cluster, conversation_id)

    def test_meetings_the_broker_lost_complete_within_about_a_minute(
        self, cluster: Cluster
    ) -> None:
        # Queued as the upload hook queues them, with the default REQUEUE_AFTER_SECONDS.
        due_in = Settings().requeue_after_seconds
        conversation_ids = [pending(cluster, requeue_in=due_in) for _ in range(3)]
        for conversation_id in conversation_ids:
            cluster.send("pipeline.transcribe", conversation_id)
        broker = redis_client(cluster.broker_url)
        broker.flushdb()  # Redis restarted with nothing on disk

        cluster.worker(beat=True)  # its sweep runs every second

        for conversation_id in conversation_ids:
            cluster.wait_for(conversation_id, Status.COMPLETED, timeout=60.0)
            assert_finished_once(cluster, conversation_id)

    def test_a_next_stage_never_sent_is_sent_by_the_sweep(self, cluster: Cluster) -> None:
        # A worker killed between committing the notes and sending the completion: the
        # synthesis's own record stays in the broker, and must not stand for the latter.
        conversation_id = pending(cluster)
        leases = Leases(requeue_after=1.0)
        uow = cluster.uow
        stages.transcribe(
            conversation_id,
            uow=uow,
            transcriber=InstantTranscriber(cluster.state),
            sources=AudioSources([cluster.audio_root]),
            leases=leases,
        )
        QueueRecords(cluster.broker_url).mark(str(conversation_id), "pipeline.synthesize")
        stages.synthesize(
            conversation_id,
            uow=uow,
            synthesizer=synthesis_chain([CountingSynthesizer(cluster.state)]),
            leases=leases,
        )

        cluster.worker(beat=True)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        assert_finished_once(cluster, conversation_id)
        assert calls(cluster, "syntheses") == 1

    def test_a_backlog_of_waiting_messages_is_not_sent_again(self, cluster: Cluster) -> None:
        # Nothing takes transcriptions yet: the messages wait, and the sweep runs every
        # second, looking at each queued conversation every second.
        cluster.worker(queues="celery", beat=True, REQUEUE_AFTER_SECONDS="1")
        recording = cluster.audio_root / "standup.wav"
        silence(recording, seconds=1.0)
        conversation_ids = [cluster.enqueue(recording, REQUEUE_AFTER_SECONDS="1") for _ in range(3)]
        broker = redis_client(cluster.broker_url)
        for conversation_id in conversation_ids:
            wait_for_sweeps(cluster, conversation_id, 3)
        assert broker.llen("transcription") == 3

        cluster.worker(queues="transcription,synthesis")

        for conversation_id in conversation_ids:
            cluster.wait_for(conversation_id, Status.COMPLETED)
            assert_finished_once(cluster, conversation_id)
        assert calls(cluster, "transcriptions") == 3


class TestRetries:
    def test_a_transient_error_is_retried_until_it_succeeds(self, cluster: Cluster) -> None:
        cluster.worker(transcriber="flaky")
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)

        done = cluster.wait_for(conversation_id, Status.COMPLETED)
        assert calls(cluster, "transcriptions") == 3
        assert done.error_message is None
        assert_finished_once(cluster, conversation_id)

    def test_a_permanent_error_fails_at_once_and_is_not_retried(self, cluster: Cluster) -> None:
        cluster.worker(transcriber="broken", beat=True)
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)

        failed = cluster.wait_for(conversation_id, Status.FAILED)
        assert failed.error_message is not None
        assert failed.error_message.endswith(": not audio")
        time.sleep(3.0)  # long enough for a retry or a recovery sweep to show
        assert calls(cluster, "transcriptions") == 1
        assert rows(cluster, TranscriptSegment, conversation_id) == 0
        assert failed.lease_expires_at is None  # failed: nothing for the sweep to resend


def wait_for_graph(cluster: Cluster, driver: Driver, conversation_id: uuid.UUID) -> None:
    """Until the conversation's outbox events are done and its meeting is in Neo4j."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        statement = select(func.count()).where(
            GraphOutboxEvent.conversation_id == conversation_id,
            GraphOutboxEvent.processed_at.is_(None),
        )
        with cluster.engine.connect() as connection:
            waiting = connection.scalar(statement)
        meetings, _, _ = driver.execute_query(
            "MATCH (m:Meeting {id: $id}) RETURN m.title AS title", id=str(conversation_id)
        )
        if waiting == 0 and meetings:
            assert [record["title"] for record in meetings] == ["Release planning"]
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {w.name}\n{w.output()}" for w in cluster.workers)
    pytest.fail(f"conversation {conversation_id} did not reach the graph\n{logs}")


class TestGraphSyncTask:
    def test_a_completion_sends_the_meeting_to_neo4j(
        self, cluster: Cluster, graph_writer: GraphWriter, neo4j_uri: str, neo4j_driver: Driver
    ) -> None:
        cluster.worker(NEO4J_URI=neo4j_uri)
        conversation_id = pending(cluster)

        cluster.send("pipeline.transcribe", conversation_id)

        cluster.wait_for(conversation_id, Status.COMPLETED)
        wait_for_graph(cluster, neo4j_driver, conversation_id)

    def test_the_periodic_sync_pushes_what_no_completion_sent(
        self, cluster: Cluster, graph_writer: GraphWriter, neo4j_uri: str, neo4j_driver: Driver
    ) -> None:
        # Completed while the graph was not configured: its event waits in the outbox.
        unconfigured = cluster.worker()
        conversation_id = pending(cluster)
        cluster.send("pipeline.transcribe", conversation_id)
        cluster.wait_for(conversation_id, Status.COMPLETED)
        unconfigured.stop()

        cluster.worker(beat=True, NEO4J_URI=neo4j_uri, GRAPH_SYNC_INTERVAL_SECONDS="1")

        wait_for_graph(cluster, neo4j_driver, conversation_id)


# A worker's stage reporting progress twice while its broker is away (nothing listens on
# the port).
_PROGRESS_WITH_THE_BROKER_AWAY = """
from pipeline import tasks
tasks.transcribe.push_request(id="progress-test", is_eager=False, hostname="test")
report = tasks.transcribe.progress_reporter("transcribe", "c0ffee")
report(10)
report(20)
"""


class TestProgressReports:
    def test_a_broker_away_does_not_fail_the_stage_reporting_progress(self) -> None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
        environment = {**os.environ, "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0"}

        result = subprocess.run(
            [sys.executable, "-c", _PROGRESS_WITH_THE_BROKER_AWAY],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )

        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        # Once: the second report does not wait on the broker's connection retries again.
        assert result.stderr.count("progress not reported conversation_id=c0ffee") == 1
        assert "error=OperationalError" in result.stderr
