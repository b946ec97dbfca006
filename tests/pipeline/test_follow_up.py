"""Action items followed across meetings: two meetings through the real pipeline (the
`minutes` command on PostgreSQL), the graph synced to a real Neo4j, and both agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver
from sqlalchemy import Engine, text

from integrations.graph.writer import GraphWriter
from tests.graph import rows
from tests.pipeline.test_cli import run

PEOPLE = [
    "Emma Brown <emma@example.com>",
    "James Miller <james@example.com>",
    "Maria Lopez <maria@example.com>",
]
FIRST = [
    ("Emma Brown", "Good morning. Today we plan the customer survey and the launch page."),
    ("Emma Brown", "James, can you send the survey results to the team by Friday?"),
    ("James Miller", "Yes, I will send them."),
    ("Emma Brown", "Maria, can you update the style guide by Thursday?"),
    ("Maria Lopez", "Sure, I will update it."),
]
# A week later: one item reported done, the other repeated.
SECOND = [
    ("Emma Brown", "Welcome back. Let us check last week's items."),
    ("James Miller", "I sent the survey results to the team on Tuesday."),
    ("Maria Lopez", "I did not get to the style guide yet."),
    ("Emma Brown", "Maria, can you update the style guide by next Monday?"),
    ("Maria Lopez", "Yes, I will."),
]


def transcript(path: Path, turns: list[tuple[str, str]]) -> Path:
    segments = [
        {"speaker": speaker, "start": 5.0 * n, "end": 5.0 * n + 4.5, "text": said}
        for n, (speaker, said) in enumerate(turns)
    ]
    path.write_text(json.dumps({"segments": segments}))
    return path


def minutes(*args: str, database: str, neo4j: str | None = None) -> str:
    result = run(*args, database_url=database, env={"NEO4J_URI": neo4j} if neo4j else None)
    assert result.returncode == 0, result.stderr
    return result.stdout


def process(database: str, path: Path, title: str, people: list[str] = PEOPLE) -> str:
    """`minutes process` on a transcript file: the new conversation's id."""
    given = [argument for person in people for argument in ("--participant", person)]
    document = json.loads(
        minutes("process", str(path), "--title", title, *given, "--json", database=database)
    )
    return str(document["conversation"]["id"])


def actions(database: str, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(minutes("actions", *args, "--json", database=database))
    return found


@pytest.fixture(scope="module")
def database(committed_database: tuple[str, Engine]) -> str:
    url, engine = committed_database
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM conversations"))
    return url


@pytest.fixture(scope="module")
def two_meetings(
    database: str, tmp_path_factory: pytest.TempPathFactory, neo4j_uri: str
) -> tuple[str, str]:
    """The first meeting processed and synced to an empty graph, then the second."""
    writer = GraphWriter.connect(neo4j_uri)
    writer.wipe()
    writer.close()
    folder = tmp_path_factory.mktemp("follow-up")
    first = process(database, transcript(folder / "first.json", FIRST), "Weekly sync 1")
    minutes("graph", "sync", database=database, neo4j=neo4j_uri)
    second = process(database, transcript(folder / "second.json", SECOND), "Weekly sync 2")
    minutes("graph", "sync", database=database, neo4j=neo4j_uri)
    return first, second


class TestFollowUp:
    def test_the_second_meeting_closes_one_item_and_carries_the_other_over(
        self,
        database: str,
        two_meetings: tuple[str, str],
        neo4j_driver: Driver,
    ) -> None:
        first, second = two_meetings

        items = {(item["meeting"]["id"], item["owner"]): item for item in actions(database)}
        survey = items[(first, "James Miller")]
        assert survey["text"] == "Send the survey results to the team"
        assert survey["state"] == "done"
        assert survey["closed_in"] == second
        assert survey["closing_quote"] == "I sent the survey results to the team on Tuesday."
        earlier_guide = items[(first, "Maria Lopez")]
        later_guide = items[(second, "Maria Lopez")]
        assert (earlier_guide["state"], later_guide["state"]) == ("open", "open")
        assert earlier_guide["carried_over_to"] == later_guide["id"]
        assert [e["id"] for e in later_guide["carried_over_from"]] == [earlier_guide["id"]]
        assert len(items) == 3

        # The open list shows the task once, as the latest meeting has it.
        [open_item] = actions(database, "--open")
        assert open_item["id"] == later_guide["id"]
        assert open_item["due"] == "next Monday"
        assert open_item["carried_over_from"][0]["meeting"]["title"] == "Weekly sync 1"
        assert actions(database, "--open", "--owner", "james") == []
        assert actions(database, "--owner", "james@example.com") == [survey]

        # The graph, synced after each meeting, agrees.
        graph = {
            row["id"]: row
            for row in rows(
                neo4j_driver,
                "MATCH (m:Meeting)-[:HAS_ACTION_ITEM]->(i:ActionItem)-[:ASSIGNED_TO]->(p:Person) "
                "RETURN i.id AS id, i.state AS state, i.due_date AS due_date, m.id AS meeting, "
                "p.key AS owner",
            )
        }
        assert {id: row["state"] for id, row in graph.items()} == {
            item["id"]: item["state"] for item in items.values()
        }
        assert graph[survey["id"]]["owner"] == "james@example.com"
        assert graph[later_guide["id"]]["due_date"] == later_guide["due_date"]
        carried = rows(
            neo4j_driver,
            "MATCH (a:ActionItem)-[:CARRIED_OVER_TO]->(b:ActionItem) RETURN a.id AS a, b.id AS b",
        )
        assert carried == [{"a": earlier_guide["id"], "b": later_guide["id"]}]
        graph_open = rows(
            neo4j_driver,
            "MATCH (i:ActionItem {state: 'open'}) WHERE NOT (i)-[:CARRIED_OVER_TO]->() "
            "RETURN i.id AS id",
        )
        assert graph_open == [{"id": open_item["id"]}]

    def test_the_saved_query_shows_each_persons_open_items_with_their_age(
        self,
        database: str,
        two_meetings: tuple[str, str],
        neo4j_uri: str,
    ) -> None:
        found = json.loads(
            minutes(
                "graph", "query", "open-items-by-age", "--json", database=database, neo4j=neo4j_uri
            )
        )

        assert [
            (row["person"], row["action_item"], row["age_days"], row["times_carried_over"])
            for row in found
        ] == [("Maria Lopez", "Update the style guide", 0, 1)]
        assert found[0]["meeting"] == "Weekly sync 2"

    def test_the_human_listing_names_the_meeting_it_was_carried_from(
        self, database: str, two_meetings: tuple[str, str]
    ) -> None:
        listing = run("actions", "--open", database_url=database, env={"COLUMNS": "200"})

        assert listing.returncode == 0, listing.stderr
        assert "Update the style guide" in listing.stdout
        assert "from Weekly sync 1" in listing.stdout
        assert "survey" not in listing.stdout

    def test_new_notes_for_a_meeting_keep_its_items_states_and_links(
        self,
        database: str,
        two_meetings: tuple[str, str],
        neo4j_uri: str,
        neo4j_driver: Driver,
    ) -> None:
        first, second = two_meetings
        before = actions(database)

        minutes("resynthesize", first, database=database)
        minutes("resynthesize", second, database=database)
        minutes("graph", "sync", database=database, neo4j=neo4j_uri)

        assert actions(database) == before
        assert len(rows(neo4j_driver, "MATCH ()-[l:CARRIED_OVER_TO]->() RETURN l")) == 1
        assert rows(neo4j_driver, "MATCH (i:ActionItem {state: 'done'}) RETURN i.text AS t") == [
            {"t": "Send the survey results to the team"}
        ]

    def test_a_bad_owner_is_one_line_and_exit_2(self, database: str) -> None:
        result = run("actions", "--owner", " ", database_url=database)

        assert result.returncode == 2
        assert result.stderr.strip() == "error: --owner must not be empty"
