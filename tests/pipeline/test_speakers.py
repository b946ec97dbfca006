"""`minutes speakers`: who spoke how much, and renaming a voice everywhere (PostgreSQL, the
notes, the graph), as a user runs it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from neo4j import Driver
from pydantic import SecretStr
from sqlalchemy import Engine, text

from integrations.graph.writer import GraphWriter
from pipeline import stages
from pipeline.config import Settings
from pipeline.graph import sync_graph
from pipeline.intake import ParticipantInput, create_conversation
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from repositories.database import UnitOfWork, create_session_factory
from repositories.models import ConversationStatus, utc_now
from repositories.segments import NewSegment
from tests.graph import rows
from tests.pipeline.test_cli import one_line_error, run

LINES = [
    ("Speaker 1", 0.0, 4.0, "Let's go through the release checklist."),
    ("Speaker 2", 4.0, 10.0, "I'll update the release notes by Friday, it is a small change."),
    ("Speaker 1", 10.0, 12.0, "Good, thanks."),
    ("Speaker 2", 12.0, 15.0, "And I'll ping legal."),
]


@pytest.fixture
def database(committed_database: tuple[str, Engine]) -> str:
    url, engine = committed_database
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM conversations"))
    return url


@pytest.fixture
def uow(database: str, committed_database: tuple[str, Engine]) -> UnitOfWork:
    return UnitOfWork(create_session_factory(committed_database[1]))


def meeting(uow: UnitOfWork) -> uuid.UUID:
    """A completed audio meeting whose voices are not named yet: Maria was invited,
    "Speaker 1" and "Speaker 2" are what the diarizer heard; Kenji is invited too."""
    with uow:
        conversation = uow.conversations.create(
            source_uri="/recordings/release.flac",
            title="Release sync",
            status=ConversationStatus.COMPLETED,
            completed_at=utc_now(),
        )
        uow.participants.create(
            conversation_id=conversation.id,
            name="Kenji Watanabe",
            email=None,
            is_organizer=True,
        )
        for label, seconds, words in (("Speaker 1", 6.0, 9), ("Speaker 2", 9.0, 16)):
            uow.participants.create(
                conversation_id=conversation.id,
                name=label,
                spoken_seconds=seconds,
                word_count=words,
            )
        uow.segments.replace_for_conversation(
            conversation.id,
            [NewSegment(start, end, said, speaker) for speaker, start, end, said in LINES],
        )
        uow.syntheses.create(
            conversation_id=conversation.id,
            summary="Release sync",
            provider="extractive",
            action_items=[
                {
                    "text": "Update the release notes",
                    "owner": "Speaker 2",
                    "owner_email": None,
                    "due": "Friday",
                    "due_date": None,
                    "evidence": {"segment_ids": [1], "quote": "I'll update the release notes"},
                },
                {"text": "Check the checklist", "owner": "Speaker 1", "evidence": None},
            ],
        )
        uow.graph_outbox.add_event(conversation.id, stages.GRAPH_EVENT_COMPLETED, {})
        return conversation.id


class TestSpeakersCommand:
    def test_lists_speakers_with_talk_time_words_and_a_sample_line(
        self, database: str, uow: UnitOfWork
    ) -> None:
        conversation_id = meeting(uow)

        listed = run("speakers", str(conversation_id), "--json", database_url=database)
        shown = run("speakers", str(conversation_id), database_url=database)

        assert listed.returncode == 0, listed.stderr
        assert json.loads(listed.stdout) == [
            {
                "label": "Speaker 2",
                "email": None,
                "seconds": 9.0,
                "words": 16,
                "segments": 2,
                "sample": "I'll update the release notes by Friday, it is a small change.",
            },
            {
                "label": "Speaker 1",
                "email": None,
                "seconds": 6.0,
                "words": 8,
                "segments": 2,
                "sample": "Let's go through the release checklist.",
            },
        ]
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].split() == ["speaker", "talk", "time", "words", "sample"]
        assert lines[1].split()[:4] == ["Speaker", "2", "0:09", "16"]

    def test_rename_updates_segments_notes_participants_and_the_graph(
        self, database: str, uow: UnitOfWork, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        conversation_id = meeting(uow)
        sync_graph(uow=uow, writer=graph_writer)
        # Not named yet: no Person for a voice every meeting has.
        assert rows(neo4j_driver, "MATCH (p:Person) RETURN p.name AS name") == [
            {"name": "Kenji Watanabe"}
        ]

        renamed = run(
            "speakers",
            str(conversation_id),
            "--rename",
            "Speaker 2=Kenji Watanabe <kenji@example.net>",
            "--rename",
            "speaker 1=Maria Lopez",
            "--json",
            database_url=database,
        )

        assert renamed.returncode == 0, renamed.stderr
        assert [(s["label"], s["email"]) for s in json.loads(renamed.stdout)] == [
            ("Kenji Watanabe", "kenji@example.net"),
            ("Maria Lopez", None),
        ]
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            assert conversation.synthesis is not None
            speakers = [segment.speaker for segment in conversation.segments]
            people = {
                p.name: (p.email, p.is_organizer, p.spoken_seconds, p.word_count)
                for p in conversation.participants
            }
            owners = [
                (item["owner"], item.get("owner_email"))
                for item in conversation.synthesis.action_items
            ]
        assert speakers == ["Maria Lopez", "Kenji Watanabe", "Maria Lopez", "Kenji Watanabe"]
        assert people == {
            "Kenji Watanabe": ("kenji@example.net", True, 9.0, 16),
            "Maria Lopez": (None, False, 6.0, 9),
        }
        assert owners == [("Kenji Watanabe", "kenji@example.net"), ("Maria Lopez", None)]

        report = sync_graph(uow=uow, writer=graph_writer)

        assert (report.events, report.failed) == (1, 0)
        assert rows(
            neo4j_driver,
            "MATCH (p:Person)-[s:SPOKE_IN]->(:Meeting {id: $id}) "
            "RETURN p.key AS key, s.seconds AS seconds, s.words AS words ORDER BY key",
            id=str(conversation_id),
        ) == [
            {"key": "kenji@example.net", "seconds": 9.0, "words": 16},
            {"key": "name:maria lopez", "seconds": 6.0, "words": 9},
        ]
        assert rows(
            neo4j_driver,
            "MATCH (:ActionItem {text: 'Update the release notes'})-[:ASSIGNED_TO]->(p:Person) "
            "RETURN p.key AS key",
        ) == [{"key": "kenji@example.net"}]
        # Kenji known by name only before is now the one person with his address.
        assert rows(neo4j_driver, "MATCH (p:Person) RETURN p.key AS key ORDER BY key") == [
            {"key": "kenji@example.net"},
            {"key": "name:maria lopez"},
        ]

    def test_two_voices_renamed_to_one_person_become_that_participant(
        self, database: str, uow: UnitOfWork
    ) -> None:
        conversation_id = meeting(uow)

        # A first name is the invited person it names.
        result = run(
            "speakers",
            str(conversation_id),
            "--rename",
            "Speaker 1=Kenji",
            "--rename",
            "Speaker 2=Kenji Watanabe <kenji@example.net>",
            database_url=database,
        )

        assert result.returncode == 0, result.stderr
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            speakers = {segment.speaker for segment in conversation.segments}
            people = [
                (p.name, p.email, p.spoken_seconds, p.word_count) for p in conversation.participants
            ]
        assert speakers == {"Kenji Watanabe"}
        assert people == [("Kenji Watanabe", "kenji@example.net", 15.0, 25)]

    @pytest.mark.parametrize(
        ("rename", "message"),
        [
            ("Speaker 9=Kenji Watanabe", "has no speaker 'Speaker 9'"),
            ("Speaker 2", "write it as 'Speaker 2=Name <email>'"),
            ("Speaker 2=Kenji <not-an-address>", "is not an email address"),
            ("Speaker 1=Sofia Rossi", "each speaker can be renamed once per command"),
        ],
    )
    def test_a_bad_rename_is_one_error_line_and_changes_nothing(
        self, database: str, uow: UnitOfWork, rename: str, message: str
    ) -> None:
        conversation_id = meeting(uow)

        # The first rename is fine; the second is not, so neither is made.
        result = run(
            "speakers",
            str(conversation_id),
            "--rename",
            "Speaker 1=Maria Lopez",
            "--rename",
            rename,
            database_url=database,
        )

        assert message in one_line_error(result)
        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            assert {s.speaker for s in conversation.segments} == {"Speaker 1", "Speaker 2"}
            assert {p.name for p in conversation.participants} == {
                "Kenji Watanabe",
                "Speaker 1",
                "Speaker 2",
            }
            assert len(uow.graph_outbox.pending_ids()) == 1

    def test_an_unknown_conversation_is_one_error_line(self, database: str) -> None:
        result = run("speakers", str(uuid.uuid4()), database_url=database)

        assert "no conversation has id" in one_line_error(result)


class TestSubtitlesWithSpeakers:
    def test_vtt_and_srt_carry_the_speakers(self, database: str, uow: UnitOfWork) -> None:
        conversation_id = meeting(uow)
        run(
            "speakers",
            str(conversation_id),
            "--rename",
            "Speaker 2=Kenji Watanabe",
            database_url=database,
        )

        vtt = run("show", str(conversation_id), "--format", "vtt", database_url=database)
        srt = run("show", str(conversation_id), "--format", "srt", database_url=database)
        markdown = run("show", str(conversation_id), "--format", "md", database_url=database)

        assert "<v Speaker 1>Let's go through the release checklist." in vtt.stdout
        assert "<v Kenji Watanabe>And I'll ping legal." in vtt.stdout
        assert "Kenji Watanabe: And I'll ping legal." in srt.stdout
        assert "Speaker 1: Good, thanks." in srt.stdout
        assert "**Kenji Watanabe:** And I'll ping legal." in markdown.stdout


class TestNamingWhileTranscribing:
    def test_voices_the_meeting_names_get_the_participants_names(
        self, database: str, uow: UnitOfWork, tmp_path: Path
    ) -> None:
        transcript = tmp_path / "standup.json"
        transcript.write_text(
            json.dumps(
                [
                    {
                        "speaker": "Speaker 1",
                        "start": 0,
                        "end": 4,
                        "text": "Morning. Kenji, any news?",
                    },
                    {
                        "speaker": "Speaker 2",
                        "start": 4,
                        "end": 9,
                        "text": "Yes, I will send the report by Friday.",
                    },
                    {
                        "speaker": "Speaker 3",
                        "start": 9,
                        "end": 12,
                        "text": "Hi all, I'm Sofia. Nothing from me.",
                    },
                ]
            )
        )
        runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[tmp_path]))
        conversation_id = create_conversation(
            runtime.unit_of_work(),
            source_uri=str(transcript),
            title="Standup",
            participants=[
                ParticipantInput("Kenji Watanabe", "kenji@example.net"),
                ParticipantInput("Sofia Rossi"),
            ],
        )

        assert run_in_process(conversation_id, runtime) is stages.StageOutcome.DONE
        runtime.close()

        with uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            speakers = [segment.speaker for segment in conversation.segments]
            people = {p.name: p.spoken_seconds for p in conversation.participants}
            assert conversation.synthesis is not None
            owners = [(i["owner"], i["owner_email"]) for i in conversation.synthesis.action_items]
        # A first-person commitment is owned by the voice that said it, now a person.
        assert owners == [("Kenji Watanabe", "kenji@example.net")]
        assert speakers == ["Speaker 1", "Kenji Watanabe", "Sofia Rossi"]
        # The voice nobody named is no participant: "Speaker 1" is no one across meetings.
        assert people == {"Kenji Watanabe": 5.0, "Sofia Rossi": 3.0}
