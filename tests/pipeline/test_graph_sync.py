"""The outbox sync and the rebuild: real PostgreSQL in, real Neo4j out."""

from __future__ import annotations

import os
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, LiteralString
from urllib.parse import urlsplit

import pytest
from neo4j import Driver, ManagedTransaction, Result
from pydantic import SecretStr
from sqlalchemy import Engine, text

from integrations.graph import cypher
from integrations.graph.model import normalize_name
from integrations.graph.writer import GraphWriter
from pipeline import stages
from pipeline.config import Settings
from pipeline.graph import rebuild_graph, sync_graph
from pipeline.intake import ParticipantInput, create_conversation
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import Conversation, ConversationStatus, GraphOutboxEvent, utc_now
from repositories.segments import NewSegment
from tests.audio import silence
from tests.graph import node_counts, relationship_counts, rows, snapshot
from tests.pipeline.test_cli import MINUTES, one_line_error, run
from tests.relay import TcpRelay
from tests.workers import Cluster, broker_url, cluster

__all__ = ["broker_url", "cluster"]  # the fixtures this module uses

DATA = Path(__file__).parent.parent / "integrations" / "data"
UNREACHABLE_NEO4J = "bolt://127.0.0.1:1"


@pytest.fixture
def database(committed_database: tuple[str, Engine]) -> str:
    """The module's committed database, emptied: each test starts with no conversations."""
    url, engine = committed_database
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM conversations"))  # cascades to everything else
    return url


@pytest.fixture
def uow(database: str, committed_database: tuple[str, Engine]) -> UnitOfWork:
    return UnitOfWork(create_session_factory(committed_database[1]))


def completed_meeting(
    uow: UnitOfWork,
    title: str,
    people: Sequence[tuple[str, str | None]],
    *,
    topics: Sequence[str] = ("Budget",),
    decisions: Sequence[str | dict[str, Any]] = ("Ship it",),
    action_items: Sequence[dict[str, Any]] = (),
    questions: Sequence[str | dict[str, Any]] = (),
) -> uuid.UUID:
    """A conversation as `stages.complete` leaves it: completed, notes, outbox event."""
    with uow:
        conversation = uow.conversations.create(
            source_uri=f"/recordings/{title}.wav",
            title=title,
            status=ConversationStatus.COMPLETED,
            completed_at=utc_now(),
        )
        for position, (name, email) in enumerate(people):
            uow.participants.create(
                conversation_id=conversation.id,
                name=name,
                email=email,
                is_organizer=position == 0,
                spoken_seconds=10.0 * (position + 1),
                word_count=20 * (position + 1),
            )
        uow.syntheses.create(
            conversation_id=conversation.id,
            summary=f"{title} summary",
            provider="extractive",
            key_topics=list(topics),
            key_decisions=list(decisions),
            action_items=list(action_items),
            open_questions=list(questions),
        )
        uow.graph_outbox.add_event(conversation.id, stages.GRAPH_EVENT_COMPLETED, {})
        return conversation.id


def outbox(uow: UnitOfWork) -> list[GraphOutboxEvent]:
    with uow:
        return list(uow.graph_outbox.list(limit=1000))


def pending(uow: UnitOfWork) -> list[GraphOutboxEvent]:
    return [event for event in outbox(uow) if event.processed_at is None]


class TestSync:
    def test_a_processed_meeting_appears_in_neo4j_as_postgresql_holds_it(
        self, database: str, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        # The embedded pipeline with no graph configured: the event waits in the outbox.
        runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[DATA]))
        conversation_id = create_conversation(
            runtime.unit_of_work(),
            source_uri=str(DATA / "teams_meeting.vtt"),
            title="Q3 roadmap",
            participants=[
                ParticipantInput(name="Alice Chen", email="alice@example.com", organizer=True),
                ParticipantInput(name="Dev Patel"),
            ],
        )
        assert run_in_process(conversation_id, runtime) is stages.StageOutcome.DONE
        runtime.close()
        assert len(pending(uow)) == 1

        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.meetings, report.failed, report.pending) == (1, 1, 0, 0)
        assert pending(uow) == []
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
        assert conversation is not None
        assert conversation.synthesis is not None
        notes = conversation.synthesis
        speakers = [p for p in conversation.participants if p.spoken_seconds is not None]
        assert len(conversation.participants) >= 3  # the two given, and the transcript's others
        assert speakers
        assert node_counts(neo4j_driver) == +Counter(
            Meeting=1,
            Person=len(conversation.participants),
            Topic=len({normalize_name(topic) for topic in notes.key_topics}),
            Decision=len(notes.key_decisions),
            ActionItem=len(notes.action_items),
            Question=len(notes.open_questions),
        )
        assert relationship_counts(neo4j_driver) == +Counter(
            ATTENDED=len(conversation.participants),
            SPOKE_IN=len(speakers),
            DISCUSSED=len({normalize_name(topic) for topic in notes.key_topics}),
            DECIDED=len(notes.key_decisions),
            HAS_ACTION_ITEM=len(notes.action_items),
            RAISED=len(notes.open_questions),
            ASSIGNED_TO=len([item for item in notes.action_items if item.get("owner")]),
        )
        [meeting] = rows(
            neo4j_driver,
            "MATCH (m:Meeting {id: $id}) RETURN m.title AS title, m.summary AS summary",
            id=str(conversation_id),
        )
        assert meeting == {"title": "Q3 roadmap", "summary": notes.summary}
        spoke = rows(
            neo4j_driver,
            "MATCH (p:Person)-[s:SPOKE_IN]->(:Meeting) RETURN p.name AS name, s.seconds AS seconds",
        )
        assert sorted((row["name"], row["seconds"]) for row in spoke) == sorted(
            (p.name, p.spoken_seconds) for p in speakers
        )
        alice = rows(neo4j_driver, "MATCH (p:Person {key: 'alice@example.com'}) RETURN p.name AS n")
        assert alice == [{"n": "Alice Chen"}]

    def test_items_carry_their_quote_and_when_it_was_said(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        conversation_id = completed_meeting(
            uow,
            "Design review",
            [("Ana Lima", None)],
            decisions=[
                {
                    "text": "The case is dark grey.",
                    "evidence": {"segment_ids": [1], "quote": "we go with dark grey"},
                }
            ],
            action_items=[
                {
                    "text": "Send the renders.",
                    "owner": "Ana Lima",
                    "evidence": {"segment_ids": [0, 1], "quote": "send the renders. So we"},
                }
            ],
            # Notes from before evidence: the node has neither.
            questions=[{"text": "Which factory?", "evidence": None}],
        )
        with uow:
            uow.segments.replace_for_conversation(
                conversation_id,
                [
                    NewSegment(start=12.5, end=14.0, text="Ana, send the renders."),
                    NewSegment(start=313.0, end=318.0, text="So we go with dark grey."),
                ],
                earlier=False,
            )

        sync_graph(uow=uow, writer=graph_writer)

        assert rows(
            neo4j_driver,
            "MATCH (:Meeting)-->(n) WHERE n:Decision OR n:ActionItem OR n:Question "
            "RETURN labels(n)[0] AS label, n.quote AS quote, n.start AS start ORDER BY label",
        ) == [
            {"label": "ActionItem", "quote": "send the renders. So we", "start": 12.5},
            {"label": "Decision", "quote": "we go with dark grey", "start": 313.0},
            {"label": "Question", "quote": None, "start": None},
        ]

    def test_syncing_again_and_repeated_events_change_nothing(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        first = completed_meeting(uow, "Planning", [("Ana Lima", "ana@example.com"), ("Ben", None)])
        completed_meeting(uow, "Review", [("Ana Lima", "ana@example.com")])
        sync_graph(uow=uow, writer=graph_writer)
        once = snapshot(neo4j_driver)

        assert sync_graph(uow=uow, writer=graph_writer).events == 0
        with uow:  # the same completion announced twice (a redelivered message)
            uow.graph_outbox.add_event(first, stages.GRAPH_EVENT_COMPLETED, {})
            uow.graph_outbox.add_event(first, stages.GRAPH_EVENT_COMPLETED, {})
        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.meetings) == (2, 1)
        assert snapshot(neo4j_driver) == once
        assert node_counts(neo4j_driver)["Meeting"] == 2

    def test_two_syncing_processes_push_every_event_exactly_once(
        self,
        database: str,
        uow: UnitOfWork,
        graph_writer: GraphWriter,
        neo4j_uri: str,
        neo4j_driver: Driver,
    ) -> None:
        people = [(f"Person {n}", f"p{n}@example.com" if n % 2 else None) for n in range(12)]
        meetings = 120
        for n in range(meetings):
            completed_meeting(
                uow,
                f"Meeting {n}",
                [people[(n + k) % len(people)] for k in range(4)],
                topics=[f"Topic {n % 7}", f"Topic {(n + 3) % 7}"],
                action_items=[{"text": f"Task {n}", "owner": people[n % len(people)][0]}],
            )
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("CELERY_")},
            "DATABASE_URL": database,
            "NEO4J_URI": neo4j_uri,
            "GRAPH_BATCH_SIZE": "4",
        }

        syncers = [
            subprocess.Popen(
                [*MINUTES, "graph", "sync"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [syncer.communicate(timeout=300) for syncer in syncers]

        assert [syncer.returncode for syncer in syncers] == [0, 0], outputs
        pushed = [int(re.findall(r"\((\d+) events\)", out)[0]) for out, _ in outputs]
        assert sum(pushed) == meetings  # neither pushed an event the other had
        assert pending(uow) == []
        concurrent = snapshot(neo4j_driver)
        assert len(concurrent["nodes"]["Meeting"]) == meetings
        graph_writer.wipe()
        rebuild_graph(uow=uow, writer=graph_writer)
        assert snapshot(neo4j_driver) == concurrent

    def test_a_sync_that_finds_another_one_pushing_leaves_the_outbox_to_it(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        completed_meeting(uow, "Planning", [("Ana Lima", None)])
        other_sync = uow.fork()

        with other_sync:  # another worker's sync, in the middle of a batch
            assert other_sync.graph_outbox.lock_for_sync(wait=False)
            report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.yielded, report.events, report.failed, report.pending) == (True, 0, 0, 1)
        [event] = pending(uow)
        assert event.attempts == 0
        assert node_counts(neo4j_driver) == Counter()
        report = sync_graph(uow=uow, writer=graph_writer)
        assert (report.yielded, report.events, report.pending) == (False, 1, 0)

    def test_a_resynthesized_meeting_keeps_only_its_new_items(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        items = [{"text": f"Task {n}", "owner": "Ana Lima"} for n in range(4)]
        meeting = completed_meeting(
            uow, "Planning", [("Ana Lima", None)], topics=["Budget", "Hiring"], action_items=items
        )
        other = completed_meeting(uow, "Other", [("Ana Lima", None)], action_items=items[:1])
        sync_graph(uow=uow, writer=graph_writer)
        before = node_counts(neo4j_driver)

        with uow:  # new notes, as a rerun of the stages stores them, with their event
            uow.syntheses.delete_for_conversation(meeting)
            uow.syntheses.create(
                conversation_id=meeting,
                summary="Planning summary",
                provider="extractive",
                key_topics=["Budget"],
                action_items=[{"text": "Task 9", "owner": None}],
            )
            uow.graph_outbox.add_event(meeting, stages.GRAPH_EVENT_COMPLETED, {})
        sync_graph(uow=uow, writer=graph_writer)

        items_now = rows(
            neo4j_driver,
            "MATCH (m:Meeting)-[:HAS_ACTION_ITEM]->(a) "
            "OPTIONAL MATCH (a)-[:ASSIGNED_TO]->(p) "
            "RETURN m.id AS meeting, a.text AS text, p.key AS owner ORDER BY meeting, text",
        )
        expected: list[dict[str, Any]] = [
            {"meeting": str(meeting), "text": "Task 9", "owner": None},
            {"meeting": str(other), "text": "Task 0", "owner": "name:ana lima"},
        ]
        assert items_now == sorted(expected, key=lambda row: str(row["meeting"]))
        assert before["ActionItem"] == 5
        assert node_counts(neo4j_driver)["ActionItem"] == 2
        assert [r["name"] for r in rows(neo4j_driver, "MATCH (t:Topic) RETURN t.name AS name")] == [
            "budget"
        ]

    def test_people_with_and_without_email_across_meetings_are_one_person(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        completed_meeting(uow, "Without email", [("carla díaz", None), ("Ben", None)])
        sync_graph(uow=uow, writer=graph_writer)
        completed_meeting(uow, "With email", [("Carla Diaz", "Carla@Example.com"), ("Ben", None)])
        sync_graph(uow=uow, writer=graph_writer)

        people = rows(
            neo4j_driver,
            "MATCH (p:Person)-[:ATTENDED]->(m) RETURN p.key AS key, count(m) AS meetings "
            "ORDER BY key",
        )
        assert people == [
            {"key": "carla@example.com", "meetings": 2},
            {"key": "name:ben", "meetings": 2},
        ]

    def test_owners_are_the_participants_the_notes_name(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        people = [("Ann Lee", "ann.lee@example.com"), ("Ann Ho", "ann.ho@example.com")]
        items: list[dict[str, Any]] = [
            {"text": "By address", "owner": "Ann", "owner_email": "Ann.Ho@example.com"},
            {"text": "By surname", "owner": "Ms. Lee", "owner_email": None},
            {"text": "Shared first name", "owner": "Ann", "owner_email": None},
            {"text": "A role", "owner": "Project Manager", "owner_email": None},
        ]
        completed_meeting(uow, "Owners", [*people, ("Carol Singh", None)], action_items=items)
        sync_graph(uow=uow, writer=graph_writer)

        owners = rows(
            neo4j_driver,
            "MATCH (a:ActionItem)-[:ASSIGNED_TO]->(p:Person) "
            "RETURN a.text AS text, p.key AS owner, p.name AS name ORDER BY text",
        )
        assert owners == [
            {"text": "A role", "owner": "name:project manager", "name": "Project Manager"},
            {"text": "By address", "owner": "ann.ho@example.com", "name": "Ann Ho"},
            {"text": "By surname", "owner": "ann.lee@example.com", "name": "Ann Lee"},
            {"text": "Shared first name", "owner": "name:ann", "name": "Ann"},
        ]

    def test_a_conversation_no_longer_completed_leaves_the_graph(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        gone = completed_meeting(uow, "Redo", [("Ana", None)], topics=["Only here"])
        completed_meeting(uow, "Stays", [("Ana", None)])
        sync_graph(uow=uow, writer=graph_writer)

        with uow:  # sent through the pipeline again
            uow.conversations.update_where(
                Conversation.id == gone, status=ConversationStatus.PENDING
            )
            uow.graph_outbox.add_event(gone, stages.GRAPH_EVENT_COMPLETED, {})
        sync_graph(uow=uow, writer=graph_writer)

        assert rows(neo4j_driver, "MATCH (m:Meeting) RETURN m.title AS title") == [
            {"title": "Stays"}
        ]
        assert rows(neo4j_driver, "MATCH (t:Topic) RETURN t.name AS name") == [{"name": "budget"}]


class TestFailures:
    def test_with_neo4j_down_meetings_complete_and_wait_in_the_outbox(
        self, database: str, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[DATA]))
        runtime.graph = GraphWriter.connect(UNREACHABLE_NEO4J, retry_seconds=0.5)
        ids = [
            create_conversation(
                runtime.unit_of_work(), source_uri=str(DATA / name), title=name, participants=[]
            )
            for name in ("zoom_meeting.vtt", "meeting.srt")
        ]
        for conversation_id in ids:
            assert run_in_process(conversation_id, runtime) is stages.StageOutcome.DONE
        runtime.close()

        with uow:
            statuses = [uow.conversations.get(i).status for i in ids]
        assert statuses == [ConversationStatus.COMPLETED] * 2
        waiting = pending(uow)
        assert {event.conversation_id for event in waiting} == set(ids)
        assert all(event.attempts >= 1 for event in waiting)
        assert all(
            (event.last_error or "").startswith("Neo4j is unreachable: ") for event in waiting
        )
        assert node_counts(neo4j_driver) == Counter()

        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.meetings, report.error) == (2, 2, None)
        assert pending(uow) == []
        assert {r["id"] for r in rows(neo4j_driver, "MATCH (m:Meeting) RETURN m.id AS id")} == {
            str(i) for i in ids
        }
        incremental = snapshot(neo4j_driver)
        graph_writer.wipe()
        rebuild_graph(uow=uow, writer=graph_writer)
        assert snapshot(neo4j_driver) == incremental

    def test_a_meeting_neo4j_refuses_waits_while_the_others_go_through(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        fine = completed_meeting(uow, "Fine", [("Ana", None)])
        # A topic no index can hold (a provider gone wrong): Neo4j refuses this meeting.
        broken = completed_meeting(uow, "Broken", [("Ana", None)], topics=["budget " * 5000])
        later = completed_meeting(uow, "Later", [("Ben", None)])

        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.failed) == (2, 1)
        assert report.error is not None
        assert "too large to index" in report.error
        [stuck] = pending(uow)
        assert (stuck.conversation_id, stuck.attempts) == (broken, 1)
        assert stuck.last_error == report.error
        titles = rows(neo4j_driver, "MATCH (m:Meeting) RETURN m.id AS id")
        assert {r["id"] for r in titles} == {str(fine), str(later)}

    def test_a_removal_neo4j_refuses_leaves_its_event_pending(
        self,
        uow: UnitOfWork,
        graph_writer: GraphWriter,
        neo4j_driver: Driver,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        redone = completed_meeting(uow, "Redo", [("Ana", None)])
        sync_graph(uow=uow, writer=graph_writer)
        with uow:  # sent through the pipeline again: out of the graph until it completes
            uow.conversations.update_where(
                Conversation.id == redone, status=ConversationStatus.PENDING
            )
            uow.graph_outbox.add_event(redone, stages.GRAPH_EVENT_COMPLETED, {})
        fine = completed_meeting(uow, "Fine", [("Ben", None)])
        refuse_meeting_removals(monkeypatch)

        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.failed) == (1, 1)
        [stuck] = pending(uow)
        assert (stuck.conversation_id, stuck.attempts) == (redone, 1)
        assert (stuck.last_error or "").startswith("Neo4j refused it: ")
        meetings = "MATCH (m:Meeting) RETURN m.id AS id ORDER BY id"
        assert rows(neo4j_driver, meetings) == sorted(
            [{"id": str(redone)}, {"id": str(fine)}], key=lambda row: row["id"]
        )

        monkeypatch.undo()  # Neo4j takes removals again
        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.failed) == (1, 0)
        assert pending(uow) == []
        assert rows(neo4j_driver, meetings) == [{"id": str(fine)}]


def refuse_meeting_removals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neo4j refuses to remove meetings, as a server whose user may not delete does: the
    driver sends, in the removal's place, a statement the server refuses."""
    run = ManagedTransaction.run

    def refusing(
        self: ManagedTransaction,
        query: LiteralString,
        parameters: dict[str, Any] | None = None,
        **kwparameters: Any,
    ) -> Result:
        if query == cypher.DELETE_MEETINGS:
            return run(self, "RETURN 1 / 0")
        return run(self, query, parameters, **kwparameters)

    monkeypatch.setattr(ManagedTransaction, "run", refusing)


class TestNeo4jOutage:
    def test_meetings_keep_completing_while_neo4j_is_down_and_reach_it_once_it_is_back(
        self,
        database: str,
        uow: UnitOfWork,
        cluster: Cluster,
        graph_writer: GraphWriter,
        neo4j_uri: str,
        neo4j_driver: Driver,
    ) -> None:
        server = urlsplit(neo4j_uri)
        neo4j = TcpRelay(target=(server.hostname or "127.0.0.1", server.port or 7687))
        # One worker slot for every queue, as `minutes worker` serves them; a sync that
        # waited for Neo4j would hold it for the ten minutes a write may retry.
        cluster.worker(
            beat=True,
            NEO4J_URI=f"bolt://127.0.0.1:{neo4j.port}",
            GRAPH_RETRY_SECONDS="600",
            GRAPH_SYNC_INTERVAL_SECONDS="1",
        )
        meetings = [queued_meeting(cluster) for _ in range(5)]

        for conversation_id in meetings:
            cluster.send("pipeline.transcribe", conversation_id)

        for conversation_id in meetings:
            cluster.wait_for(conversation_id, ConversationStatus.COMPLETED)
        waiting = wait_for_outbox(
            uow,
            cluster,
            # Each meeting's event, and the follow-up events of those whose action items a
            # later one carried over.
            lambda events: (
                {e.conversation_id for e in events} == set(meetings)
                and all(e.attempts for e in events)
            ),
        )
        assert {event.conversation_id for event in waiting} == set(meetings)
        assert all(
            (event.last_error or "").startswith("Neo4j is unreachable: ") for event in waiting
        )
        assert node_counts(neo4j_driver) == Counter()

        neo4j.start()
        try:
            wait_for_outbox(uow, cluster, lambda events: not events)
        finally:
            neo4j.stop()
        in_graph = rows(neo4j_driver, "MATCH (m:Meeting) RETURN m.id AS id")
        assert {row["id"] for row in in_graph} == {str(i) for i in meetings}


def queued_meeting(cluster: Cluster) -> uuid.UUID:
    """A stored pending conversation with its recording in the cluster's audio root."""
    recording = silence(cluster.audio_root / f"{uuid.uuid4().hex}.wav", seconds=1.0)
    with cluster.uow as uow:
        return uow.conversations.create(source_uri=str(recording), title="Weekly sync").id


def wait_for_outbox(
    uow: UnitOfWork, cluster: Cluster, done: Callable[[list[GraphOutboxEvent]], bool]
) -> list[GraphOutboxEvent]:
    """The pending outbox events, once `done` says they are as expected."""
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        if done(waiting := pending(uow)):
            return waiting
        time.sleep(0.2)
    logs = "\n".join(f"--- {worker.name}\n{worker.output()}" for worker in cluster.workers)
    pytest.fail(f"the outbox did not get there: {pending(uow)}\n{logs}")


class TestRebuild:
    def test_rebuild_after_a_wipe_gives_the_incremental_graph(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        for n in range(7):
            completed_meeting(
                uow,
                f"Meeting {n}",
                [
                    ("Ana Lima", "ana@example.com" if n == 5 else None),
                    (("Bo Chen", "Cy Diaz", "Di Eze")[n % 3], None),
                ],
                topics=[f"Topic {n % 2}", "Roadmap"],
                decisions=[f"Decision {n}"],
                action_items=[{"text": f"Task {n}", "owner": "Ana"}],
                questions=[f"Question {n}?"],
            )
            sync_graph(uow=uow, writer=graph_writer)
        incremental = snapshot(neo4j_driver)
        assert incremental["nodes"]["Person"].keys() == {
            "ana@example.com",
            "name:bo chen",
            "name:cy diaz",
            "name:di eze",
        }
        graph_writer.wipe()
        assert node_counts(neo4j_driver) == Counter()

        assert rebuild_graph(uow=uow, writer=graph_writer, batch_size=3) == 7

        assert snapshot(neo4j_driver) == incremental

    def test_rebuild_covers_the_pending_events(
        self, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        completed_meeting(uow, "One", [("Ana", None)])
        completed_meeting(uow, "Two", [("Ben", None)])
        progress: list[tuple[int, int]] = []

        assert (
            rebuild_graph(
                uow=uow,
                writer=graph_writer,
                batch_size=1,
                on_progress=lambda *a: progress.append(a),
            )
            == 2
        )

        assert progress == [(0, 2), (1, 2), (2, 2)]
        assert pending(uow) == []
        assert node_counts(neo4j_driver)["Meeting"] == 2


class TestCommands:
    def test_sync_and_rebuild_report_what_they_did(
        self,
        database: str,
        uow: UnitOfWork,
        neo4j_uri: str,
        neo4j_driver: Driver,
        graph_writer: GraphWriter,
    ) -> None:
        completed_meeting(uow, "One", [("Ana", None)])
        env = {"NEO4J_URI": neo4j_uri}

        synced = run("graph", "sync", database_url=database, env=env)
        rebuilt = run("graph", "rebuild", database_url=database, env=env)

        assert (synced.returncode, synced.stdout) == (
            0,
            "synced 1 meetings (1 events), 0 pending\n",
        )
        assert (rebuilt.returncode, rebuilt.stdout) == (0, "rebuilt the graph from 1 meetings\n")
        assert node_counts(neo4j_driver)["Meeting"] == 1

    def test_without_neo4j_uri_the_graph_commands_say_so(self, database: str) -> None:
        result = run("graph", "sync", database_url=database, env={"NEO4J_URI": ""})

        assert result.returncode == 2
        assert result.stderr == (
            "error: the graph is not configured: set NEO4J_URI (e.g. bolt://127.0.0.1:7687)\n"
        )

    @pytest.mark.parametrize(
        "command",
        [("graph", "sync"), ("graph", "rebuild"), ("graph", "query", "open-action-items")],
        ids=["sync", "rebuild", "query"],
    )
    def test_the_neo4j_browser_address_is_one_line_saying_to_use_bolt(
        self, database: str, uow: UnitOfWork, command: tuple[str, ...]
    ) -> None:
        completed_meeting(uow, "One", [("Ana", None)])

        result = run(
            *command,
            database_url=database,
            env={"NEO4J_URI": "http://neo4j:s3cret@127.0.0.1:7474/browser/"},
        )

        assert one_line_error(result) == (
            "error: NEO4J_URI must be a bolt:// or neo4j:// address (bolt+s://, neo4j+s:// "
            "with TLS), e.g. bolt://127.0.0.1:7687 (http:// is the Neo4j Browser's address)"
        )
        assert "s3cret" not in result.stderr
        assert len(pending(uow)) == 1

    def test_an_unreachable_neo4j_leaves_the_events_pending_and_exits_1(
        self, database: str, uow: UnitOfWork
    ) -> None:
        completed_meeting(uow, "One", [("Ana", None)])

        result = run(
            "graph",
            "sync",
            database_url=database,
            env={"NEO4J_URI": UNREACHABLE_NEO4J, "GRAPH_RETRY_SECONDS": "0.5"},
        )

        assert result.returncode == 1
        assert result.stdout == "synced 0 meetings (0 events), 1 pending\n"
        [line] = result.stderr.splitlines()
        assert line.startswith("error: 1 events left pending: Neo4j is unreachable: ")
        [event] = pending(uow)
        assert event.attempts == 1
