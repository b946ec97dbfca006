"""The read API of `minutes hooks serve` (GET /search, GET /conversations/{id}) on a real
PostgreSQL holding scripted meetings run through the in-process pipeline."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.pipeline.test_cli import run
from tests.pipeline.test_http_hook import Server, _running_server, error_of
from tests.repositories.test_search import (
    INCIDENT,
    LAUNCH,
    TRANSCRIPTS,
    process_meeting,
    runtime_on,
)


@pytest.fixture(scope="module")
def meetings(committed_database: tuple[str, Engine], corpus: Path) -> dict[str, uuid.UUID]:
    runtime = runtime_on(committed_database[0], corpus)
    try:
        return {title: process_meeting(runtime, corpus, title) for title in (LAUNCH, INCIDENT)}
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def server(
    committed_database: tuple[str, Engine],
    meetings: dict[str, uuid.UUID],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    token = secrets.token_urlsafe(32)
    base = tmp_path_factory.mktemp("read-api")
    with _running_server(committed_database[0], base, base / "hook.log", API_TOKEN=token) as url:
        yield Server(url, None, base / "hook.log", token)


class TestReadApiRefusesWithoutTheToken:
    @pytest.mark.parametrize("path", ["/search?q=decided", "/conversations/{id}"])
    @pytest.mark.parametrize(
        "authorization", [None, "Bearer wrong-token"], ids=["no-token", "wrong-token"]
    )
    def test_401_with_a_bearer_challenge(
        self,
        server: Server,
        meetings: dict[str, uuid.UUID],
        path: str,
        authorization: str | None,
    ) -> None:
        headers = {"Authorization": authorization} if authorization else {}

        response = httpx.get(
            server.url + path.format(id=meetings[LAUNCH]), headers=headers, timeout=10
        )

        error_of(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert LAUNCH not in response.text


class TestSearchEndpoint:
    def test_the_results_are_the_commands(
        self, server: Server, committed_database: tuple[str, Engine], tmp_path: Path
    ) -> None:
        for query, filters in [
            ("decided", {}),
            ('"media plan"', {}),
            ("decided", {"speaker": "priya"}),
            ("decided", {"since": "2026-11-01"}),
        ]:
            response = server.get("/search?" + str(httpx.QueryParams({"q": query, **filters})))
            options = [part for name, value in filters.items() for part in (f"--{name}", value)]
            command = run("search", query, *options, "--json", database_url=committed_database[0])

            assert response.status_code == 200, response.text
            assert command.returncode == 0, command.stderr
            assert response.json() == json.loads(command.stdout)
            assert response.json(), query

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("q=%20", "the query is empty"),
            ("", "invalid query.q"),
            ("q=decided&since=someday%20maybe", "is not a date"),
            ("q=decided&limit=0", "invalid query.limit"),
        ],
        ids=["blank-q", "no-q", "bad-since", "bad-limit"],
    )
    def test_bad_input_is_a_json_422(self, server: Server, query: str, message: str) -> None:
        assert message in error_of(server.get(f"/search?{query}"), 422)

    def test_query_syntax_and_sql_are_only_text(self, server: Server) -> None:
        for query in ["'; DROP TABLE conversations; --", '"unbalanced', "NEAR(a*", "%00"]:
            response = server.get("/search?" + str(httpx.QueryParams({"q": query})))

            assert response.status_code == 200, response.text
        assert server.get("/search?q=decided").json()


class TestConversationEndpoint:
    def test_status_transcript_and_notes(
        self, server: Server, meetings: dict[str, uuid.UUID], corpus: Path
    ) -> None:
        response = server.get(f"/conversations/{meetings[INCIDENT]}")

        assert response.status_code == 200, response.text
        document = response.json()
        assert document["id"] == str(meetings[INCIDENT])
        assert document["status"] == "completed"
        assert document["title"] == INCIDENT
        assert document["synthesis_provider"] == "extractive"
        script = corpus / "scripted" / f"{TRANSCRIPTS[INCIDENT]}.timeline.json"
        turns = json.loads(script.read_text())
        assert [(s["speaker"], s["text"]) for s in document["segments"]] == [
            (turn["speaker"], turn["text"]) for turn in turns
        ]
        assert document["notes"]["summary"]
        assert any("alert" in item["text"].lower() for item in document["notes"]["key_decisions"])
        assert {p["name"] for p in document["participants"]} >= {"Priya Natarajan", "Grace Liu"}

    def test_an_unknown_id_is_a_json_404(self, server: Server) -> None:
        unknown = uuid.uuid4()

        assert str(unknown) in error_of(server.get(f"/conversations/{unknown}"), 404)

    def test_a_malformed_id_is_a_json_422(self, server: Server) -> None:
        assert "conversation_id" in error_of(server.get("/conversations/12345"), 422)
