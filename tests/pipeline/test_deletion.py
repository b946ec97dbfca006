"""Deleting a meeting: gone from PostgreSQL, from Neo4j and from the downloads; what other
meetings use stays. Through the `minutes` command, the HTTP service and mid-pipeline."""

from __future__ import annotations

import functools
import http.server
import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from neo4j import Driver
from pydantic import SecretStr
from sqlalchemy import Engine, text

from integrations.graph.writer import GraphWriter
from integrations.transcription.base import Transcriber, Transcript
from pipeline import providers, stages
from pipeline.config import Settings
from pipeline.deletion import delete_conversation
from pipeline.intake import create_conversation
from pipeline.runner import run_in_process
from pipeline.runtime import Runtime
from tests.graph import rows
from tests.pipeline import test_http_hook as http_hook_tests
from tests.pipeline.test_cli import MINUTES, environment, one_line_error, run
from tests.pipeline.test_follow_up import database, process, transcript
from tests.pipeline.test_http_hook import _running_server

__all__ = ["database"]  # the fixture this module uses

# The tables that hold a conversation's rows, and the column naming it.
OWNED = {
    "conversations": "id",
    "participants": "conversation_id",
    "transcript_segments": "conversation_id",
    "syntheses": "conversation_id",
    "action_items": "conversation_id",
    "graph_outbox": "conversation_id",
}


def owned_rows(engine: Engine, conversation_id: str) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.scalar(
                text(f"SELECT count(*) FROM {table} WHERE {column} = :id"),  # noqa: S608
                {"id": uuid.UUID(conversation_id)},
            )
            or 0
            for table, column in OWNED.items()
        }


def neighbours(driver: Driver, conversation_id: str) -> list[dict[str, Any]]:
    return rows(
        driver,
        "MATCH (:Meeting {id: $id})-[link]-(node) "
        "RETURN type(link) AS link, labels(node)[0] AS label, "
        "coalesce(node.id, node.key, node.name) AS key",
        id=conversation_id,
    )


class TestDeleteCommand:
    def test_the_meeting_goes_everywhere_and_what_another_uses_stays(
        self,
        database: str,
        committed_database: tuple[str, Engine],
        tmp_path: Path,
        graph_writer: GraphWriter,
        neo4j_uri: str,
        neo4j_driver: Driver,
    ) -> None:
        engine = committed_database[1]
        graph = {"NEO4J_URI": neo4j_uri}
        first = process(
            database,
            transcript(
                tmp_path / "a.json",
                [
                    ("Emma Brown", "We decided to move the launch to May."),
                    ("Emma Brown", "James, can you book the venue by Friday?"),
                    ("James Miller", "Yes, I will book it."),
                ],
            ),
            "Launch",
            ["Emma Brown <emma@example.com>", "James Miller <james@example.com>"],
        )
        second = process(
            database,
            transcript(
                tmp_path / "b.json",
                [
                    ("Emma Brown", "We decided to hire a second designer."),
                    ("Emma Brown", "Maria, can you write the job posting by Monday?"),
                    ("Maria Lopez", "Sure, I will write it."),
                ],
            ),
            "Hiring",
            ["Emma Brown <emma@example.com>", "Maria Lopez <maria@example.com>"],
        )
        assert run("graph", "sync", database_url=database, env=graph).returncode == 0
        first_nodes = neighbours(neo4j_driver, first)
        second_nodes = neighbours(neo4j_driver, second)
        assert {"ActionItem", "Decision", "Person"} <= {node["label"] for node in first_nodes}
        second_rows = owned_rows(engine, second)

        # No terminal to confirm on and no --yes: nothing is deleted.
        unconfirmed = subprocess.run(
            [*MINUTES, "delete", first[:8]],
            input="",
            capture_output=True,
            text=True,
            env=environment(database),
            timeout=300,
            check=False,
        )
        assert "--yes" in one_line_error(unconfirmed)
        assert owned_rows(engine, first)["conversations"] == 1

        deleted = run("delete", first[:8], "--yes", database_url=database, env=graph)

        assert deleted.returncode == 0, deleted.stderr
        assert deleted.stdout.strip() == f"deleted conversation {first}"
        assert owned_rows(engine, first) == dict.fromkeys(OWNED, 0)
        assert owned_rows(engine, second) == second_rows
        with engine.connect() as connection:
            pending = connection.scalar(
                text("SELECT count(*) FROM graph_outbox WHERE processed_at IS NULL")
            )
        assert pending == 0
        # Neo4j: the meeting and everything only it had are gone; the other is whole.
        assert rows(neo4j_driver, "MATCH (m:Meeting) RETURN m.id AS id") == [{"id": second}]
        gone = [n["key"] for n in first_nodes if n["label"] in ("ActionItem", "Decision")]
        assert rows(neo4j_driver, "MATCH (n) WHERE n.id IN $ids RETURN n", ids=gone) == []
        people = rows(neo4j_driver, "MATCH (p:Person) RETURN p.key AS key ORDER BY key")
        assert people == [{"key": "emma@example.com"}, {"key": "maria@example.com"}]
        assert neighbours(neo4j_driver, second) == second_nodes
        topics_left = {
            r["name"] for r in rows(neo4j_driver, "MATCH (t:Topic) RETURN t.name AS name")
        }
        assert topics_left == {n["key"] for n in second_nodes if n["label"] == "Topic"}

        again = run("delete", first, "--yes", database_url=database)
        assert one_line_error(again) == f"error: no conversation has id {first}"

    def test_an_id_that_is_none_is_one_line_and_exit_2(self, database: str) -> None:
        assert "not a conversation id" in one_line_error(
            run("delete", "not-an-id", "--yes", database_url=database)
        )
        assert "no conversation has an id starting with" in one_line_error(
            run("delete", "0000ffff", "--yes", database_url=database)
        )


class TestDeleteEndpoint:
    def test_needs_the_token_then_deletes_then_knows_it_no_more(
        self,
        database: str,
        committed_database: tuple[str, Engine],
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # A loaded machine (the suite's own workers) takes longer than the hook tests allow.
        monkeypatch.setattr(http_hook_tests, "READY_TIMEOUT_S", 120.0)
        engine = committed_database[1]
        runtime = Runtime(Settings(database_url=SecretStr(database), audio_roots=[tmp_path]))
        recording = transcript(tmp_path / "pending.json", [("Ann Lee", "Hello.")])
        conversation_id = create_conversation(
            runtime.unit_of_work(), source_uri=str(recording), title="Pending"
        )
        runtime.close()
        token = secrets.token_urlsafe(32)
        url = f"/conversations/{conversation_id}"

        with _running_server(database, tmp_path, tmp_path / "hook.log", API_TOKEN=token) as base:

            def delete(path: str, token: str | None) -> httpx.Response:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                return httpx.delete(f"{base}{path}", headers=headers, timeout=30)

            missing = delete(url, None)
            wrong = delete(url, "guess")
            assert (missing.status_code, wrong.status_code) == (401, 401)
            assert "Bearer" in missing.json()["error"]
            assert owned_rows(engine, str(conversation_id))["conversations"] == 1

            done = delete(url, token)
            assert (done.status_code, done.content) == (204, b"")
            assert owned_rows(engine, str(conversation_id))["conversations"] == 0

            again = delete(url, token)
            assert again.status_code == 404
            assert str(conversation_id) in again.json()["error"]
            assert delete("/conversations/not-a-uuid", token).status_code == 422


class _Server(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder served over HTTP on loopback, as a recording store would."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(_Server, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    thread.join()
    server.server_close()


class _DeletedWhileTranscribing:
    """The real transcriber, with the meeting deleted by its user while it runs."""

    runtime: Runtime

    def __init__(self, inner: Transcriber) -> None:
        self.inner = inner
        self.copy: Path | None = None
        self.copies_removed = -1

    def transcribe(self, path: Path, **options: Any) -> Transcript:
        transcript = self.inner.transcribe(path, **options)
        self.copy = path
        conversation_id = uuid.UUID(path.name.removeprefix("minutes-")[:36])
        deleted = delete_conversation(
            conversation_id, uow=self.runtime.unit_of_work(), sources=self.runtime.sources
        )
        assert deleted is not None
        self.copies_removed = deleted.downloads
        return transcript


class TestDeleteMidPipeline:
    def test_a_meeting_deleted_while_transcribing_leaves_nothing_behind(
        self,
        database: str,
        committed_database: tuple[str, Engine],
        served: tuple[str, Path],
        tmp_path: Path,
    ) -> None:
        base, folder = served
        transcript(folder / "call.json", [("Ann Lee", "We decided to ship on Monday.")])
        settings = Settings(
            database_url=SecretStr(database), audio_roots=[tmp_path], allow_private_sources=True
        )
        transcriber = _DeletedWhileTranscribing(providers.build_transcriber(settings))
        runtime = Runtime(settings, transcriber=transcriber)
        transcriber.runtime = runtime
        conversation_id = create_conversation(
            runtime.unit_of_work(), source_uri=f"{base}/call.json", title="Call"
        )
        try:
            outcome = run_in_process(conversation_id, runtime)
        finally:
            runtime.close()

        assert outcome in (stages.StageOutcome.GONE, stages.StageOutcome.SKIPPED)
        assert transcriber.copy is not None
        assert transcriber.copy.parent == runtime.sources.downloads
        assert transcriber.copies_removed == 1
        assert not transcriber.copy.exists()
        assert list(runtime.sources.downloads.glob(f"minutes-{conversation_id}-*")) == []
        assert owned_rows(committed_database[1], str(conversation_id)) == dict.fromkeys(OWNED, 0)
