"""New notes for a completed meeting, and SYNTHESIS_PROVIDER's order in the pipeline:
real PostgreSQL rows, real Neo4j nodes, the `minutes` command as users run it."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from neo4j import Driver
from pydantic import SecretStr

from integrations.errors import TransientIntegrationError
from integrations.graph.writer import GraphWriter
from integrations.synthesis.base import (
    Evidence,
    MeetingContext,
    NoteItem,
    Notes,
    SynthesisConfigurationError,
    SynthesisUnavailableError,
    Utterance,
)
from integrations.synthesis.extractive import ExtractiveSynthesizer
from pipeline import stages
from pipeline.config import Settings
from pipeline.graph import sync_graph
from pipeline.intake import ParticipantInput, create_conversation
from pipeline.providers import UnknownProviderError, build_synthesizer, synthesis_chain
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from pipeline.stages import StageOutcome
from repositories.database import UnitOfWork
from repositories.models import ConversationStatus, GraphOutboxEvent
from tests.graph import rows
from tests.pipeline.test_cli import one_line_error, run
from tests.pipeline.test_graph_sync import database, uow
from tests.pipeline.test_tasks import calls, pending
from tests.workers import Cluster, broker_url, cluster, redis_client

__all__ = ["broker_url", "cluster", "database", "uow"]  # the fixtures this module uses

DATA = Path(__file__).parent.parent / "integrations" / "data"
TRANSCRIPT = DATA / "teams_meeting.vtt"


class ScriptedProvider:
    """An outside notes provider (a language model's server) answering from a script."""

    def __init__(
        self, name: str, decisions: Sequence[str] = (), *, error: Exception | None = None
    ) -> None:
        self.name = name
        self.decisions = list(decisions)
        self.error = error
        self.heard: list[tuple[list[Utterance], MeetingContext]] = []

    def synthesize(self, utterances: Sequence[Utterance], meeting: MeetingContext) -> Notes:
        self.heard.append((list(utterances), meeting))
        if self.error is not None:
            raise self.error
        return Notes(
            summary="The launch moves to May.",
            # Every decision cites what the transcript's first line says: it checks out.
            key_decisions=[
                NoteItem(decision, Evidence((0,), "Good morning, everyone"))
                for decision in self.decisions
            ],
            key_topics=["launch"],
            provider=self.name,
            model="scripted-1",
            prompt_tokens=512,
            completion_tokens=64,
            seconds=2.5,
        )


@pytest.fixture
def runtime(database: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[DATA]))
    yield runtime
    runtime.close()


def _new(runtime: Runtime) -> uuid.UUID:
    return create_conversation(
        runtime.unit_of_work(),
        source_uri=str(TRANSCRIPT),
        title="Q3 roadmap",
        participants=[
            ParticipantInput(name="Alice Chen", email="alice@example.com", organizer=True)
        ],
    )


def _completed(runtime: Runtime) -> uuid.UUID:
    conversation_id = _new(runtime)
    assert run_in_process(conversation_id, runtime) is StageOutcome.DONE
    return conversation_id


def _events(uow: UnitOfWork, conversation_id: uuid.UUID) -> list[GraphOutboxEvent]:
    with uow:
        events = uow.graph_outbox.list(limit=1000)
        ours = [event for event in events if event.conversation_id == conversation_id]
        return sorted(ours, key=lambda event: event.created_at)


def _decisions_in_neo4j(driver: Driver, conversation_id: uuid.UUID) -> list[str]:
    found = rows(
        driver,
        "MATCH (:Meeting {id: $id})-[:DECIDED]->(d:Decision) RETURN d.text AS text ORDER BY text",
        id=str(conversation_id),
    )
    return [row["text"] for row in found]


class TestResynthesize:
    def test_new_notes_replace_the_old_and_the_graph_follows(
        self, database: str, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        old_decisions = ["We keep the March date.", "Alice Chen owns the roadmap."]
        runtime = Runtime(
            Settings(database_url=SecretStr(database), audio_roots=[DATA]),
            synthesizer=ScriptedProvider("first", old_decisions),
        )
        conversation_id = _completed(runtime)
        runtime.close()
        sync_graph(uow=uow, writer=graph_writer)
        assert _decisions_in_neo4j(neo4j_driver, conversation_id) == sorted(old_decisions)
        with uow:
            before = uow.conversations.get_with_transcript(conversation_id)
            assert before is not None
            segments = [(s.id, s.position, s.text) for s in before.segments]
            completed_at = before.completed_at
        model = ScriptedProvider(
            "openai", ["The launch moves to May.", "Bob Okafor owns the roadmap."]
        )

        outcome = stages.resynthesize(
            conversation_id, uow=uow, synthesizer=synthesis_chain([model])
        )

        assert outcome is StageOutcome.DONE
        with uow:
            after = uow.conversations.get_with_transcript(conversation_id)
            assert after is not None
            assert after.synthesis is not None
            notes = after.synthesis
            assert [(s.id, s.position, s.text) for s in after.segments] == segments
            assert after.status is ConversationStatus.COMPLETED
            assert after.completed_at == completed_at
            assert [item["text"] for item in notes.key_decisions] == model.decisions
            assert (notes.provider, notes.model, notes.prompt_tokens, notes.completion_tokens) == (
                "openai",
                "scripted-1",
                512,
                64,
            )
            assert notes.seconds == 2.5
        # From the stored transcript: each segment by its position, the people with emails.
        [(utterances, meeting)] = model.heard
        assert [(u.segment_id, u.text) for u in utterances] == [(p, t) for _, p, t in segments]
        assert meeting.title == "Q3 roadmap"
        assert ("Alice Chen", "alice@example.com") in [(a.name, a.email) for a in meeting.attendees]
        events = _events(uow, conversation_id)
        assert [event.event_type for event in events if event.processed_at is None] == [
            stages.GRAPH_EVENT_RESYNTHESIZED
        ]

        sync_graph(uow=uow, writer=graph_writer)

        assert _decisions_in_neo4j(neo4j_driver, conversation_id) == sorted(model.decisions)
        in_graph = rows(neo4j_driver, "MATCH (d:Decision) RETURN d.text AS text")
        assert not {row["text"] for row in in_graph} & set(old_decisions)

    def test_a_meeting_not_completed_is_left_as_it_is(
        self, runtime: Runtime, uow: UnitOfWork
    ) -> None:
        conversation_id = _new(runtime)  # pending
        model = ScriptedProvider("openai", ["Anything"])

        outcome = stages.resynthesize(
            conversation_id, uow=uow, synthesizer=synthesis_chain([model])
        )

        assert outcome is StageOutcome.SKIPPED
        assert model.heard == []
        assert _events(uow, conversation_id) == []
        with uow:
            assert uow.syntheses.get_by_conversation(conversation_id) is None

    def test_an_unknown_conversation_is_gone(self, uow: UnitOfWork) -> None:
        chain = synthesis_chain([ScriptedProvider("openai")])
        assert stages.resynthesize(uuid.uuid4(), uow=uow, synthesizer=chain) is StageOutcome.GONE

    def test_a_provider_failing_leaves_the_old_notes_and_no_event(
        self, runtime: Runtime, uow: UnitOfWork
    ) -> None:
        conversation_id = _completed(runtime)
        with uow:
            old = uow.syntheses.get_by_conversation(conversation_id)
            assert old is not None
            old_summary = old.summary
        events = len(_events(uow, conversation_id))
        refused = ScriptedProvider("openai", error=SynthesisConfigurationError("401"))

        with pytest.raises(SynthesisConfigurationError):
            stages.resynthesize(conversation_id, uow=uow, synthesizer=synthesis_chain([refused]))

        with uow:
            kept = uow.syntheses.get_by_conversation(conversation_id)
            assert kept is not None
            assert kept.summary == old_summary
        assert len(_events(uow, conversation_id)) == events


class TestFallbackInThePipeline:
    def test_a_provider_refusing_for_good_leaves_the_notes_to_the_next(
        self, database: str, uow: UnitOfWork
    ) -> None:
        refused = ScriptedProvider("openai", error=SynthesisConfigurationError("OPENAI_API_KEY"))
        runtime = Runtime(
            Settings(database_url=SecretStr(database), audio_roots=[DATA]),
            synthesizer=synthesis_chain([refused, ExtractiveSynthesizer()]),
        )
        conversation_id = _new(runtime)

        assert run_in_process(conversation_id, runtime) is StageOutcome.DONE

        with uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
            assert notes is not None
            assert notes.provider == "extractive"
        assert len(refused.heard) == 1
        runtime.close()

    def test_a_provider_away_is_retried_then_passed_over_on_the_final_attempt(
        self, runtime: Runtime, uow: UnitOfWork
    ) -> None:
        away = ScriptedProvider("openai", error=SynthesisUnavailableError("HTTP 503"))
        chain = synthesis_chain([away, ExtractiveSynthesizer()])
        conversation_id = _new(runtime)
        stages.transcribe(
            conversation_id, uow=uow, transcriber=runtime.transcriber, sources=runtime.sources
        )

        with pytest.raises(TransientIntegrationError):
            stages.synthesize(conversation_id, uow=uow, synthesizer=chain, final_attempt=False)
        with uow:
            assert uow.syntheses.get_by_conversation(conversation_id) is None
            assert uow.conversations.get(conversation_id).status is ConversationStatus.SYNTHESIZING

        outcome = stages.synthesize(conversation_id, uow=uow, synthesizer=chain, final_attempt=True)

        assert outcome is StageOutcome.DONE
        with uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
            assert notes is not None
            assert notes.provider == "extractive"
        assert len(away.heard) == 2


class TestProviderSettings:
    def test_synthesis_provider_is_an_order_of_known_names(self) -> None:
        chain = build_synthesizer(Settings(synthesis_provider=["extractive"]))
        assert chain.name == "extractive"

    def test_an_unknown_name_is_refused_naming_the_setting_and_the_choices(self) -> None:
        with pytest.raises(UnknownProviderError) as refused:
            build_synthesizer(Settings(synthesis_provider=["magic", "extractive"]))
        assert str(refused.value) == (
            "SYNTHESIS_PROVIDER: no synthesis provider is named 'magic'; known: openai, extractive"
        )


class TestCommandLine:
    @pytest.fixture
    def completed(self, runtime: Runtime) -> uuid.UUID:
        return _completed(runtime)

    def test_resynthesize_writes_new_notes_and_an_event(
        self, database: str, uow: UnitOfWork, completed: uuid.UUID
    ) -> None:
        events = len(_events(uow, completed))

        result = run(
            "resynthesize", str(completed), "--provider", "extractive", database_url=database
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"conversation {completed} has new notes by extractive"
        assert len(_events(uow, completed)) == events + 1

    def test_with_a_broker_the_command_queues_the_task_with_its_providers(
        self, database: str, broker_url: str, completed: uuid.UUID
    ) -> None:
        result = run(
            "resynthesize",
            str(completed),
            "--provider",
            "extractive",
            database_url=database,
            env={"CELERY_BROKER_URL": broker_url},
        )

        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"conversation {completed} queued for new notes"
        [message] = redis_client(broker_url).lrange("synthesis", 0, -1)
        body = json.loads(message)
        headers, arguments = body["headers"], json.loads(base64.b64decode(body["body"]))
        assert headers["task"] == "pipeline.resynthesize"
        assert arguments[:2] == [[str(completed)], {"providers": ["extractive"]}]

    def test_status_shows_who_wrote_the_notes_and_what_it_took(
        self, database: str, completed: uuid.UUID
    ) -> None:
        result = run("status", str(completed), "--json", database_url=database)
        status = json.loads(result.stdout)
        assert status["synthesis_provider"] == "extractive"
        assert status["synthesis_model"] is None
        assert status["synthesis_prompt_tokens"] is None
        assert status["synthesis_provider_seconds"] >= 0
        assert status["synthesis_dropped_items"] == 0
        human = run("status", str(completed), database_url=database)
        assert "synthesis_provider" in human.stdout
        assert "extractive" in human.stdout

    def test_an_unknown_id_is_one_error_line(self, database: str) -> None:
        line = one_line_error(run("resynthesize", str(uuid.uuid4()), database_url=database))
        assert "no conversation has id" in line

    def test_a_meeting_not_completed_is_one_error_line(
        self, database: str, runtime: Runtime
    ) -> None:
        pending = _new(runtime)
        line = one_line_error(run("resynthesize", str(pending), database_url=database))
        assert line == (
            f"error: conversation {pending} is pending; only completed ones are resynthesized"
        )

    def test_an_unknown_provider_is_one_error_line(
        self, database: str, completed: uuid.UUID
    ) -> None:
        line = one_line_error(
            run("resynthesize", str(completed), "--provider", "magic", database_url=database)
        )
        assert (
            line == "error: --provider: no synthesis provider is named 'magic'; "
            "known: openai, extractive"
        )

    def test_an_unknown_synthesis_provider_setting_is_one_error_line(
        self, database: str, completed: uuid.UUID
    ) -> None:
        line = one_line_error(
            run(
                "status",
                str(completed),
                database_url=database,
                env={"SYNTHESIS_PROVIDER": "openai-typo,extractive"},
            )
        )
        assert "SYNTHESIS_PROVIDER: no synthesis provider is named 'openai-typo'" in line


class TestTask:
    def test_the_task_takes_its_providers_through_a_real_broker(self, cluster: Cluster) -> None:
        cluster.worker()  # its own notes come from the counting test provider
        conversation_id = pending(cluster)
        cluster.send("pipeline.transcribe", conversation_id)
        cluster.wait_for(conversation_id, ConversationStatus.COMPLETED)
        assert calls(cluster, "syntheses") == 1

        cluster.send("pipeline.resynthesize", conversation_id, kwargs={"providers": ["extractive"]})

        deadline = time.monotonic() + 60
        while len(_events(cluster.uow, conversation_id)) < 2:
            assert time.monotonic() < deadline, [w.output() for w in cluster.workers]
            time.sleep(0.2)
        events = _events(cluster.uow, conversation_id)
        assert [event.event_type for event in events] == [
            stages.GRAPH_EVENT_COMPLETED,
            stages.GRAPH_EVENT_RESYNTHESIZED,
        ]
        with cluster.uow as uow:
            notes = uow.syntheses.get_by_conversation(conversation_id)
            assert notes is not None
            assert notes.provider == "extractive"
        assert calls(cluster, "syntheses") == 1  # the run's own providers, not the worker's
