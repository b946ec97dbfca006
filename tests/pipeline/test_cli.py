"""The `minutes` command line, run as a user runs it: a subprocess against PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from repositories.database import UnitOfWork, create_database_engine, create_session_factory
from repositories.models import (
    Conversation,
    ConversationStatus,
    Participant,
    Synthesis,
    TranscriptSegment,
)
from tests.audio import silence
from tests.workers import broker_url, redis_client

__all__ = ["broker_url"]  # a fixture this module uses

MINUTES = [sys.executable, "-c", "from pipeline.cli import main; main()"]


@pytest.fixture(scope="module")
def cli_database(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    """A database of the CLI's own: what it commits must not leak into rolled-back tests."""
    from tests.conftest import _create_database, _drop_database

    name = f"minutes_cli_{uuid.uuid4().hex[:12]}"
    url = _create_database(postgres_server_url, name)
    engine = create_database_engine(url)
    yield url, engine
    engine.dispose()
    _drop_database(postgres_server_url, name)


def environment(database_url: str | None, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment `minutes` runs in: only what the test gives, no ambient broker or
    Neo4j."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith(("CELERY_", "NEO4J_"))
    }
    environment["HF_HUB_OFFLINE"] = "1"
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    environment.update(env or {})
    return environment


def run(
    *args: str,
    database_url: str | None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MINUTES, *args],
        capture_output=True,
        text=True,
        env=environment(database_url, env),
        cwd=cwd,
        timeout=300,
        check=False,
    )


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(model)) or 0


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def _rows(engine: Engine) -> list[int]:
    """How many rows each table a `process` writes holds."""
    return [
        count(engine, model) for model in (Conversation, Participant, TranscriptSegment, Synthesis)
    ]


def _wait_for_status(
    engine: Engine, title: str, status: ConversationStatus, process: subprocess.Popen[str]
) -> None:
    """Until the conversation titled `title` is in `status` (polling: it is another process)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        with engine.connect() as connection:
            found = connection.scalar(
                select(Conversation.status).where(Conversation.title == title)
            )
        if found is status:
            return
        time.sleep(0.1)
    pytest.fail(f"the conversation never became {status}")


@pytest.fixture(scope="module")
def migrated(cli_database: tuple[str, Engine]) -> tuple[str, Engine]:
    url, engine = cli_database
    result = run("db", "upgrade", database_url=url)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    return url, engine


@pytest.fixture(scope="module")
def processed(migrated: tuple[str, Engine], corpus: Path) -> dict[str, Any]:
    """One scripted meeting processed end to end with --json."""
    url, _ = migrated
    meeting = json.loads((corpus / "scripted" / "launch-planning.json").read_text())
    people = [f"{p['name']} <{p['email']}>" for p in meeting["participants"]]
    result = run(
        "process",
        str(corpus / "scripted" / "launch-planning.wav"),
        "--title",
        meeting["title"],
        *[arg for person in people for arg in ("--participant", person)],
        "--json",
        database_url=url,
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)  # one document, nothing else
    return document


class TestProcess:
    def test_json_document_holds_conversation_segments_and_notes(
        self, processed: dict[str, Any]
    ) -> None:
        conversation = processed["conversation"]
        assert conversation["status"] == "completed"
        assert conversation["title"] == "Mobile app launch planning"
        assert conversation["duration_seconds"] == pytest.approx(162.6, abs=0.5)
        segments = processed["segments"]
        assert len(segments) >= 5
        starts = [segment["start"] for segment in segments]
        assert starts == sorted(starts)
        assert all(s["words"] for s in segments)
        notes = processed["notes"]
        assert set(notes) >= {
            "summary",
            "key_decisions",
            "action_items",
            "open_questions",
            "key_topics",
        }
        assert notes["summary"]
        assert any("march" in decision["text"].lower() for decision in notes["key_decisions"])
        owners = {item["owner"] for item in notes["action_items"]}
        assert "Carol Singh" in owners
        assert all(
            set(item)
            == {"text", "owner", "owner_email", "due", "due_date", "evidence", "start", "speaker"}
            for item in notes["action_items"]
        )
        items = [*notes["key_decisions"], *notes["action_items"], *notes["open_questions"]]
        assert all(item["evidence"]["segment_ids"] for item in items)
        # When and by whom: the first cited segment's.
        speaker_at = {segment["start"]: segment["speaker"] for segment in segments}
        assert all(speaker_at[item["start"]] == item["speaker"] for item in items)
        emails = {p["email"] for p in processed["participants"]}
        assert "alice.chen@example.com" in emails

    def test_rows_are_in_postgresql(
        self, processed: dict[str, Any], migrated: tuple[str, Engine]
    ) -> None:
        _, engine = migrated
        conversation_id = uuid.UUID(processed["conversation"]["id"])
        with UnitOfWork(create_session_factory(engine)) as uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
        assert conversation is not None
        assert conversation.status is ConversationStatus.COMPLETED
        assert conversation.transcription_model == "tiny.en"
        assert len(conversation.segments) == len(processed["segments"])
        assert conversation.synthesis is not None
        assert len(conversation.participants) == 4

    def test_a_platform_transcript_on_the_embedded_sqlite_default(self, tmp_path: Path) -> None:
        transcript = tmp_path / "sync.srt"
        transcript.write_text(
            "1\n00:00:00,000 --> 00:00:03,000\nAnn Lee: We decided to ship on Monday.\n\n"
            "2\n00:00:03,500 --> 00:00:06,000\nBo Chen: I will write the notes by Friday.\n",
            encoding="utf-8",
        )
        result = run("process", str(transcript), "--json", database_url=None, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert [s["speaker"] for s in document["segments"]] == ["Ann Lee", "Bo Chen"]
        assert document["conversation"]["title"] == "sync"
        assert document["conversation"]["transcription_model"] is None  # no model made it
        assert (tmp_path / "minutes.db").is_file()
        listed = run("list", "--json", database_url=None, cwd=tmp_path)
        assert [row["id"] for row in json.loads(listed.stdout)] == [document["conversation"]["id"]]

    def test_human_output_prints_the_notes(self, tmp_path: Path) -> None:
        transcript = tmp_path / "sync.json"
        transcript.write_text(
            json.dumps(
                {
                    "segments": [
                        {
                            "speaker": "Ann Lee",
                            "start": 0,
                            "end": 3,
                            "text": "Let's go with plan B.",
                        },
                        {
                            "speaker": "Ann Lee",
                            "start": 3,
                            "end": 6,
                            "text": "Bo, can you book the room by Tuesday?",
                        },
                    ]
                }
            ),
            encoding="utf-8",
        )
        result = run("process", str(transcript), database_url=None, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Key decisions" in result.stdout
        assert "plan B" in result.stdout
        assert "Action items" in result.stdout
        assert result.stderr == ""  # no progress display when output is not a terminal


class TestShowStatusList:
    def test_show_srt(self, processed: dict[str, Any], migrated: tuple[str, Engine]) -> None:
        url, _ = migrated
        result = run("show", processed["conversation"]["id"], "--format", "srt", database_url=url)
        assert result.returncode == 0, result.stderr
        blocks = result.stdout.strip().split("\n\n")
        assert len(blocks) == len(processed["segments"])
        first = blocks[0].splitlines()
        assert first[0] == "1"
        assert re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", first[1])
        segment = processed["segments"][0]
        assert segment["speaker"] == "Speaker 1"  # the voices told apart, none named
        assert first[2] == f"Speaker 1: {segment['text']}"

    def test_show_vtt_json_and_markdown(
        self, processed: dict[str, Any], migrated: tuple[str, Engine]
    ) -> None:
        url, _ = migrated
        conversation_id = processed["conversation"]["id"]
        vtt = run("show", conversation_id, "--format", "vtt", database_url=url)
        assert vtt.stdout.startswith("WEBVTT\n\n00:00:")
        as_json = json.loads(
            run("show", conversation_id, "--format", "json", database_url=url).stdout
        )
        assert as_json["notes"] == processed["notes"]
        markdown = run("show", conversation_id, database_url=url).stdout
        assert markdown.startswith("# Mobile app launch planning")
        assert "## Action items" in markdown
        # Each decision with the time it was said: "- [00:01:05] We launch in March. — ..."
        decisions = markdown.split("## Key decisions\n\n")[1].split("\n\n")[0].splitlines()
        assert decisions
        assert all(re.match(r"- \[\d\d:\d\d:\d\d\] .+ — ", line) for line in decisions)
        assert "## Transcript" in markdown

    def test_status_and_list(self, processed: dict[str, Any], migrated: tuple[str, Engine]) -> None:
        url, _ = migrated
        conversation_id = processed["conversation"]["id"]
        status = json.loads(run("status", conversation_id, "--json", database_url=url).stdout)
        assert status["status"] == "completed"
        assert status["transcription_seconds"] > 0
        # Which Whisper made the transcript: WHISPER_MODEL=auto picks one per language.
        assert (status["transcription_provider"], status["transcription_model"]) == (
            "local",
            "tiny.en",
        )
        assert status["completed_at"] is not None
        human = run("status", conversation_id, database_url=url)
        assert "completed" in human.stdout
        completed = json.loads(
            run("list", "--status", "completed", "--json", database_url=url).stdout
        )
        assert conversation_id in [row["id"] for row in completed]
        assert (
            json.loads(run("list", "--status", "failed", "--json", database_url=url).stdout) == []
        )


class TestIds:
    @pytest.mark.parametrize("columns", ["80", "40"])
    def test_list_and_status_print_whole_ids_at_any_width(
        self, processed: dict[str, Any], migrated: tuple[str, Engine], columns: str
    ) -> None:
        url, _ = migrated
        rows = json.loads(run("list", "--json", database_url=url).stdout)
        human = run("list", database_url=url, env={"COLUMNS": columns})
        assert human.returncode == 0, human.stderr
        for row in rows:
            assert row["id"] in human.stdout
            assert row["status"] in human.stdout
        conversation_id = processed["conversation"]["id"]
        status = run("status", conversation_id, database_url=url, env={"COLUMNS": columns})
        assert conversation_id in status.stdout

    def test_a_unique_start_of_an_id_stands_for_it(
        self, processed: dict[str, Any], migrated: tuple[str, Engine]
    ) -> None:
        url, _ = migrated
        conversation_id = processed["conversation"]["id"]
        for given in (conversation_id[:8], conversation_id[:20], conversation_id[:6].upper()):
            status = run("status", given, "--json", database_url=url)
            assert json.loads(status.stdout)["id"] == conversation_id, status.stderr
        shown = run("show", conversation_id[:10], "--format", "json", database_url=url)
        assert json.loads(shown.stdout)["conversation"]["id"] == conversation_id

    @pytest.mark.parametrize("command", ["status", "show", "retry"])
    def test_a_start_two_ids_share_is_refused_naming_both(
        self, migrated: tuple[str, Engine], command: str
    ) -> None:
        url, engine = migrated
        shared = uuid.uuid4().hex[:8]
        ids = [uuid.UUID(f"{shared}-{digit}000-4000-8000-000000000000") for digit in "12"]
        with UnitOfWork(create_session_factory(engine)) as uow:
            for conversation_id in ids:
                uow.conversations.create(id=conversation_id, source_uri="call.vtt")
        line = one_line_error(run(command, shared, database_url=url))
        assert f"{shared} is ambiguous" in line
        assert all(str(conversation_id) in line for conversation_id in ids)
        unique = f"{shared}-2"
        assert json.loads(run("status", unique, "--json", database_url=url).stdout)["id"] == str(
            ids[1]
        )


class TestRetry:
    def test_retry_runs_a_failed_conversation_again(
        self, migrated: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = migrated
        transcript = tmp_path / "retry.vtt"
        transcript.write_text(
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann Lee>We decided to retry.\n",
            encoding="utf-8",
        )
        with UnitOfWork(create_session_factory(engine)) as uow:
            conversation_id = uow.conversations.create(
                source_uri=str(transcript),
                status=ConversationStatus.FAILED,
                error_message="the worker was lost",
            ).id
        result = subprocess.run(
            [*MINUTES, "retry", str(conversation_id)[:13]],
            capture_output=True,
            text=True,
            env={**os.environ, "DATABASE_URL": url, "AUDIO_ROOTS": str(tmp_path)},
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert f"conversation {conversation_id} completed" in result.stdout
        again = run("retry", str(conversation_id)[:8], database_url=url)
        assert "only failed ones are retried" in one_line_error(again)


class TestEnqueue:
    def test_enqueue_stores_a_pending_conversation_and_queues_it_once(
        self, migrated: tuple[str, Engine], broker_url: str, tmp_path: Path
    ) -> None:
        url, engine = migrated
        recording = silence(tmp_path / "weekly.wav", seconds=1.0)
        env = {"CELERY_BROKER_URL": broker_url, "AUDIO_ROOTS": str(tmp_path)}
        command = [
            "enqueue",
            "weekly.wav",
            "--title",
            "Weekly sync",
            "--participant",
            "Ann Lee <ann@example.com>",
            "--platform",
            "zoom",
            "--meeting-id",
            "zm-881",
        ]

        first = run(*command, database_url=url, cwd=tmp_path, env=env)
        again = run(*command, database_url=url, cwd=tmp_path, env=env)

        assert first.returncode == 0, first.stderr
        conversation_id = uuid.UUID(first.stdout.strip())
        assert again.stdout.strip() == str(conversation_id)
        with UnitOfWork(create_session_factory(engine)) as uow:
            conversation = uow.conversations.get_with_transcript(conversation_id)
            assert conversation is not None
            assert conversation.status is ConversationStatus.PENDING
            assert conversation.source_uri == str(recording.resolve())  # absolute for workers
            assert (conversation.platform, conversation.platform_meeting_id) == ("zoom", "zm-881")
            assert [(p.name, p.email) for p in conversation.participants] == [
                ("Ann Lee", "ann@example.com")
            ]
        assert redis_client(broker_url).llen("transcription") == 1

    def test_the_same_idempotency_key_gives_the_same_conversation(
        self, migrated: tuple[str, Engine], broker_url: str, tmp_path: Path
    ) -> None:
        url, engine = migrated
        silence(tmp_path / "standup.wav", seconds=1.0)
        env = {"CELERY_BROKER_URL": broker_url, "AUDIO_ROOTS": str(tmp_path)}
        key = f"upload-{uuid.uuid4()}"
        ids = {
            run(
                "enqueue",
                "standup.wav",
                "--idempotency-key",
                key,
                database_url=url,
                cwd=tmp_path,
                env=env,
            ).stdout.strip()
            for _ in range(2)
        }
        assert len(ids) == 1
        with UnitOfWork(create_session_factory(engine)) as uow:
            assert uow.conversations.count(Conversation.idempotency_key == key) == 1
        assert redis_client(broker_url).llen("transcription") == 1

    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("../outside.wav", "outside the allowed audio roots"),
            ("missing.wav", "no such file"),
            ("http://127.0.0.1:8000/meeting.wav", "127.0.0.1"),
            ("ftp://example.com/meeting.wav", "ftp"),
        ],
    )
    def test_enqueue_refuses_a_source_it_may_not_read(
        self,
        migrated: tuple[str, Engine],
        broker_url: str,
        tmp_path: Path,
        source: str,
        message: str,
    ) -> None:
        url, engine = migrated
        allowed = tmp_path / "recordings"
        allowed.mkdir()
        silence(tmp_path / "outside.wav", seconds=1.0)
        before = count(engine, Conversation)
        result = run(
            "enqueue",
            source,
            database_url=url,
            cwd=allowed,
            env={"CELERY_BROKER_URL": broker_url, "AUDIO_ROOTS": str(allowed)},
        )
        assert message in one_line_error(result)
        assert count(engine, Conversation) == before
        assert redis_client(broker_url).llen("transcription") == 0

    def test_without_a_broker_enqueue_runs_the_pipeline_in_process(
        self, migrated: tuple[str, Engine], tmp_path: Path
    ) -> None:
        url, engine = migrated
        (tmp_path / "call.vtt").write_text(
            "WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n<v Ann Lee>We decided to ship it.\n",
            encoding="utf-8",
        )
        result = run(
            "enqueue",
            "call.vtt",
            database_url=url,
            cwd=tmp_path,
            env={"AUDIO_ROOTS": str(tmp_path)},
        )
        assert result.returncode == 0, result.stderr
        with UnitOfWork(create_session_factory(engine)) as uow:
            conversation = uow.conversations.get(uuid.UUID(result.stdout.strip()))
        assert conversation.status is ConversationStatus.COMPLETED

    def test_a_worker_needs_a_broker(self, migrated: tuple[str, Engine]) -> None:
        url, _ = migrated
        assert "CELERY_BROKER_URL" in one_line_error(run("worker", database_url=url))


class TestBadInput:
    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("notes.wav", b"meeting notes, not audio\n", "notes.wav"),
            ("empty.mp3", b"", "empty.mp3"),
            ("garbage.flac", bytes(range(256)) * 40, "garbage.flac"),
            ("broken.vtt", b"WEBVTT\n\n00:00:0x.000 --> 00:00:01.000\nHi\n", "broken.vtt"),
            ("broken.json", b'{"segments": 3}', "broken.json"),
        ],
    )
    def test_bad_files_leave_no_rows(
        self,
        migrated: tuple[str, Engine],
        tmp_path: Path,
        name: str,
        content: bytes,
        message: str,
    ) -> None:
        url, engine = migrated
        before = (count(engine, Conversation), count(engine, TranscriptSegment))
        path = tmp_path / name
        path.write_bytes(content)
        assert message in one_line_error(run("process", str(path), database_url=url))
        assert (count(engine, Conversation), count(engine, TranscriptSegment)) == before

    def test_a_transcript_that_does_not_fit_the_database_leaves_no_rows(
        self, migrated: tuple[str, Engine], tmp_path: Path
    ) -> None:
        # Parsed fine, then refused by PostgreSQL mid-stage (speaker names are at most 255
        # characters): bad input that is no integration error.
        url, engine = migrated
        before = _rows(engine)
        path = tmp_path / "long-name.vtt"
        path.write_text(
            f"WEBVTT\n\n00:00:00.000 --> 00:00:03.000\n<v {'Ann ' * 80}>We ship on Monday.\n",
            encoding="utf-8",
        )
        result = run("process", str(path), "--participant", "Bo Chen", database_url=url)
        assert "long-name.vtt: value too long" in one_line_error(result)
        assert _rows(engine) == before

    def test_ctrl_c_mid_transcription_leaves_no_rows(
        self, migrated: tuple[str, Engine], corpus: Path
    ) -> None:
        url, engine = migrated
        before = _rows(engine)
        title = f"interrupted {uuid.uuid4()}"
        process = subprocess.Popen(
            [*MINUTES, "process", str(corpus / "scripted" / "launch-planning.wav"), "-t", title],
            env=environment(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # As from a terminal: a shell without job control starts background commands
            # (and so perhaps this test run) with SIGINT ignored, and children inherit that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            _wait_for_status(engine, title, ConversationStatus.TRANSCRIBING, process)
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=120)
        finally:
            process.kill()
        result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert result.returncode == 130, result
        assert result.stdout == ""
        assert result.stderr.split() == ["error:", "interrupted"]
        assert _rows(engine) == before

    @pytest.mark.parametrize("seconds", [0.0, 3.0])
    def test_empty_or_silent_audio(
        self, migrated: tuple[str, Engine], tmp_path: Path, seconds: float
    ) -> None:
        url, engine = migrated
        before = count(engine, Conversation)
        wav = silence(tmp_path / "quiet.wav", seconds)
        assert "no speech" in one_line_error(run("process", str(wav), database_url=url))
        assert count(engine, Conversation) == before
        assert count(engine, Synthesis) <= before

    def test_missing_file(self, migrated: tuple[str, Engine], tmp_path: Path) -> None:
        url, _ = migrated
        line = one_line_error(run("process", str(tmp_path / "nope.wav"), database_url=url))
        assert line == f"error: {tmp_path / 'nope.wav'}: no such file"

    @pytest.mark.parametrize("command", ["status", "show", "retry"])
    def test_unknown_and_malformed_ids(self, migrated: tuple[str, Engine], command: str) -> None:
        url, _ = migrated
        unknown = str(uuid.uuid4())
        assert f"no conversation has id {unknown}" in one_line_error(
            run(command, unknown, database_url=url)
        )
        assert "not a conversation id" in one_line_error(run(command, "42", database_url=url))
        assert "not a conversation id" in one_line_error(run(command, "xyzw", database_url=url))
        assert "no conversation has an id starting with 0000" in one_line_error(
            run(command, "0000", database_url=url)
        )

    @pytest.mark.parametrize(
        "args",
        [
            ["show", "00000000-0000-0000-0000-000000000000", "--format", "pdf"],
            ["list", "--status", "sleeping"],
            ["list", "--bogus"],
            ["frobnicate"],
            ["process", "a.wav", "--participant", "Ann <not-an-email>"],
        ],
    )
    def test_bad_options(
        self, migrated: tuple[str, Engine], tmp_path: Path, args: list[str]
    ) -> None:
        url, engine = migrated
        (tmp_path / "a.wav").write_bytes(b"RIFF")
        before = count(engine, Conversation)
        one_line_error(run(*args, database_url=url, cwd=tmp_path))
        assert count(engine, Conversation) == before

    def test_an_unmigrated_server_database_is_reported(self, fresh_database: str) -> None:
        line = one_line_error(run("list", database_url=fresh_database))
        assert "minutes db upgrade" in line
