"""The analysts' saved queries on a known graph of four meetings, and `minutes graph query`.

The fixture is written meeting by meeting, as the outbox sync writes them, so the person
resolution runs the way it does in production: José García is known by name only in the
first meeting, and by email from the second one on.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from neo4j import Driver

from integrations.graph.model import Attendance, Meeting, Person, Statement, Task, normalize_name
from integrations.graph.queries import (
    SAVED_QUERIES,
    SAVED_QUERIES_BY_NAME,
    QueryParameterError,
    plain,
)
from integrations.graph.writer import GraphWriter
from tests.conftest import NEO4J_URI
from tests.pipeline.test_cli import one_line_error, run

KICKOFF = "00000000-0000-4000-8000-000000000001"
HIRING = "00000000-0000-4000-8000-000000000002"
BUDGET = "00000000-0000-4000-8000-000000000003"
RETRO = "00000000-0000-4000-8000-000000000004"

ALICE = Person("Alice Chen", "alice@example.com")
BOB = Person("Bob Martinez")  # never gives an email
CAROL = Person("Carol Diaz", "carol@example.com")
DANA = Person("Dana Kim")  # owns an action item, attends nothing


def _at(day: int) -> datetime:
    return datetime(2024, 3, day, 9, 30, tzinfo=UTC)


def _iso(day: int) -> str:
    """A `completed_at` as `plain` renders Neo4j's DateTime."""
    return f"2024-03-{day:02d}T09:30:00.000000000+00:00"


MEETINGS = (
    Meeting(
        id=KICKOFF,
        title="Q3 roadmap kickoff",
        completed_at=_at(1),
        attendees=(
            Attendance(ALICE, organizer=True, spoken_seconds=120.0, spoken_words=300),
            Attendance(BOB, spoken_seconds=60.0, spoken_words=150),
            # Name only here; with an email (and without the accents) in the next meeting.
            Attendance(Person("José García"), spoken_seconds=30.0, spoken_words=80),
        ),
        topics=("Q3 Roadmap", "Hiring"),
        decisions=(
            Statement("kickoff-d1", "Ship the beta in July."),
            Statement("kickoff-d2", "Freeze the scope on June 1."),
        ),
        action_items=(
            Task("kickoff-a1", "Draft the launch plan.", owner=ALICE, due="2024-03-08"),
            Task("kickoff-a2", "Book the venue.", owner=DANA),
        ),
        questions=(Statement("kickoff-q1", "Who signs off on the budget?"),),
    ),
    Meeting(
        id=HIRING,
        title="Hiring sync",
        completed_at=_at(8),
        attendees=(
            Attendance(Person("Alice Chen", "ALICE@Example.com")),
            Attendance(Person("Jose Garcia", "jose@example.com"), organizer=True),
        ),
        # The same topics spelled otherwise, and one twice.
        topics=("hiring", "  q3   ROADMAP ", "Hiring "),
        decisions=(Statement("hiring-d1", "Open two backend roles."),),
        action_items=(Task("hiring-a1", "Post the job ad.", owner=Person("JOSÉ GARCÍA")),),
    ),
    Meeting(
        id=BUDGET,
        title="Budget review",
        completed_at=_at(15),
        attendees=(Attendance(ALICE), Attendance(BOB), Attendance(CAROL, organizer=True)),
        topics=("Budget", "Q3 roadmap"),
        decisions=(Statement("budget-d1", "Cut travel by 10%."),),
        action_items=(
            Task("budget-a1", "Send the budget to finance.", owner=ALICE),
            Task("budget-a2", "Renegotiate the cloud contract.", owner=BOB, due="2024-04-01"),
            Task("budget-a3", "Find a cheaper venue."),  # nobody named
        ),
    ),
    Meeting(
        id=RETRO,
        title="Retro",
        completed_at=_at(22),
        attendees=(Attendance(BOB), Attendance(CAROL), Attendance(Person("josé garcía"))),
        topics=("Budget", "Retro"),
        questions=(Statement("retro-q1", "Do we keep the Friday demo?"),),
    ),
)


@pytest.fixture
def graph(graph_writer: GraphWriter) -> GraphWriter:
    """The four meetings, each in its own write, in the order they completed."""
    for meeting in MEETINGS:
        graph_writer.write([meeting])
    return graph_writer


def rows(writer: GraphWriter, name: str, **given: str) -> list[dict[str, Any]]:
    query = SAVED_QUERIES_BY_NAME[name]
    _, found = writer.read(query.cypher, query.bind(given))
    return [{key: plain(value) for key, value in row.items()} for row in found]


ACTION_ITEMS = [
    {
        "person": "Alice Chen",
        "action_item": "Send the budget to finance.",
        "due": None,
        "meeting": "Budget review",
        "completed_at": _iso(15),
    },
    {
        "person": "Alice Chen",
        "action_item": "Draft the launch plan.",
        "due": "2024-03-08",
        "meeting": "Q3 roadmap kickoff",
        "completed_at": _iso(1),
    },
    {
        "person": "Bob Martinez",
        "action_item": "Renegotiate the cloud contract.",
        "due": "2024-04-01",
        "meeting": "Budget review",
        "completed_at": _iso(15),
    },
    {
        "person": "Dana Kim",
        "action_item": "Book the venue.",
        "due": None,
        "meeting": "Q3 roadmap kickoff",
        "completed_at": _iso(1),
    },
    {
        "person": "Jose Garcia",
        "action_item": "Post the job ad.",
        "due": None,
        "meeting": "Hiring sync",
        "completed_at": _iso(8),
    },
]


class TestOpenActionItems:
    def test_everyones_items_by_person_then_newest_meeting(self, graph: GraphWriter) -> None:
        # The item that names nobody is nobody's to owe: it is not listed.
        assert rows(graph, "open-action-items") == ACTION_ITEMS

    @pytest.mark.parametrize("person", ["alice@example.com", " ALICE@Example.COM "])
    def test_one_person_by_email_in_any_case(self, graph: GraphWriter, person: str) -> None:
        assert rows(graph, "open-action-items", person=person) == ACTION_ITEMS[:2]

    @pytest.mark.parametrize("person", ["Alice Chen", "  alice   CHEN"])
    def test_one_person_by_name_in_any_case_and_spacing(
        self, graph: GraphWriter, person: str
    ) -> None:
        assert rows(graph, "open-action-items", person=person) == ACTION_ITEMS[:2]

    @pytest.mark.parametrize("person", ["José García", "JOSE GARCIA", "jose@example.com"])
    def test_an_item_owned_by_name_only_belongs_to_the_email_person(
        self, graph: GraphWriter, person: str
    ) -> None:
        assert rows(graph, "open-action-items", person=person) == [ACTION_ITEMS[4]]

    def test_an_owner_who_attended_nothing(self, graph: GraphWriter) -> None:
        assert rows(graph, "open-action-items", person="dana kim") == [ACTION_ITEMS[3]]

    def test_someone_unknown_owes_nothing(self, graph: GraphWriter) -> None:
        assert rows(graph, "open-action-items", person="Nobody Here") == []


class TestMeetingsAttended:
    def test_newest_first_with_organizer_and_speaking_time(self, graph: GraphWriter) -> None:
        assert rows(graph, "meetings-attended", person="alice@example.com") == [
            {
                "meeting_id": BUDGET,
                "meeting": "Budget review",
                "completed_at": _iso(15),
                "organizer": False,
                "spoke_seconds": 0.0,
            },
            {
                "meeting_id": HIRING,
                "meeting": "Hiring sync",
                "completed_at": _iso(8),
                "organizer": False,
                "spoke_seconds": 0.0,
            },
            {
                "meeting_id": KICKOFF,
                "meeting": "Q3 roadmap kickoff",
                "completed_at": _iso(1),
                "organizer": True,
                "spoke_seconds": 120.0,
            },
        ]

    @pytest.mark.parametrize("person", ["josé garcía", "Jose  Garcia", "JOSE@EXAMPLE.COM"])
    def test_the_name_only_attendance_moved_to_the_email_person(
        self, graph: GraphWriter, person: str
    ) -> None:
        # The kickoff knew him by name only: that attendance, and its speaking time, are his.
        assert rows(graph, "meetings-attended", person=person) == [
            {
                "meeting_id": RETRO,
                "meeting": "Retro",
                "completed_at": _iso(22),
                "organizer": False,
                "spoke_seconds": 0.0,
            },
            {
                "meeting_id": HIRING,
                "meeting": "Hiring sync",
                "completed_at": _iso(8),
                "organizer": True,
                "spoke_seconds": 0.0,
            },
            {
                "meeting_id": KICKOFF,
                "meeting": "Q3 roadmap kickoff",
                "completed_at": _iso(1),
                "organizer": False,
                "spoke_seconds": 30.0,
            },
        ]

    def test_a_person_known_by_name_only(self, graph: GraphWriter) -> None:
        found = rows(graph, "meetings-attended", person="BOB MARTINEZ")
        assert [row["meeting_id"] for row in found] == [RETRO, BUDGET, KICKOFF]
        assert [row["spoke_seconds"] for row in found] == [0.0, 0.0, 60.0]

    def test_an_owner_who_attended_nothing_attended_nothing(self, graph: GraphWriter) -> None:
        assert rows(graph, "meetings-attended", person="Dana Kim") == []


class TestRecurringTopics:
    def test_topics_of_two_meetings_or_more_whatever_their_spelling(
        self, graph: GraphWriter
    ) -> None:
        assert rows(graph, "recurring-topics") == [
            {
                "topic": "q3 roadmap",
                "meetings": 3,
                "first_discussed": _iso(1),
                "last_discussed": _iso(15),
            },
            {
                "topic": "budget",
                "meetings": 2,
                "first_discussed": _iso(15),
                "last_discussed": _iso(22),
            },
            {
                "topic": "hiring",
                "meetings": 2,
                "first_discussed": _iso(1),
                "last_discussed": _iso(8),
            },
        ]

    def test_min_meetings(self, graph: GraphWriter) -> None:
        assert [row["topic"] for row in rows(graph, "recurring-topics", min_meetings="3")] == [
            "q3 roadmap"
        ]
        assert [row["topic"] for row in rows(graph, "recurring-topics", min_meetings="5")] == []

    def test_every_topic_with_a_limit(self, graph: GraphWriter) -> None:
        every = rows(graph, "recurring-topics", min_meetings="1")
        assert [(row["topic"], row["meetings"]) for row in every] == [
            ("q3 roadmap", 3),
            ("budget", 2),
            ("hiring", 2),
            ("retro", 1),
        ]
        limited = rows(graph, "recurring-topics", min_meetings="1", limit=" 2 ")
        assert limited == every[:2]


class TestDecisionsAbout:
    def test_decisions_of_every_meeting_that_discussed_it_newest_first(
        self, graph: GraphWriter
    ) -> None:
        assert rows(graph, "decisions-about", topic="  Q3  ROADMAP ") == [
            {
                "meeting": "Budget review",
                "completed_at": _iso(15),
                "decision": "Cut travel by 10%.",
            },
            {
                "meeting": "Hiring sync",
                "completed_at": _iso(8),
                "decision": "Open two backend roles.",
            },
            {
                "meeting": "Q3 roadmap kickoff",
                "completed_at": _iso(1),
                "decision": "Ship the beta in July.",
            },
            {
                "meeting": "Q3 roadmap kickoff",
                "completed_at": _iso(1),
                "decision": "Freeze the scope on June 1.",
            },
        ]

    def test_a_topic_of_meetings_that_decided_nothing(self, graph: GraphWriter) -> None:
        assert rows(graph, "decisions-about", topic="Retro") == []

    def test_an_unknown_topic(self, graph: GraphWriter) -> None:
        assert rows(graph, "decisions-about", topic="pricing") == []


PAIRS = [
    {"person": "Alice Chen", "other_person": "Bob Martinez", "meetings_together": 2},
    {"person": "Alice Chen", "other_person": "Jose Garcia", "meetings_together": 2},
    {"person": "Carol Diaz", "other_person": "Bob Martinez", "meetings_together": 2},
    {"person": "Jose Garcia", "other_person": "Bob Martinez", "meetings_together": 2},
    {"person": "Alice Chen", "other_person": "Carol Diaz", "meetings_together": 1},
    {"person": "Carol Diaz", "other_person": "Jose Garcia", "meetings_together": 1},
]


class TestPeopleWhoMeetMost:
    def test_each_pair_once_most_meetings_first(self, graph: GraphWriter) -> None:
        # José's name-only kickoff attendance counts for him: he met Bob there and at the
        # retro. Dana attended nothing, so she is in no pair.
        assert rows(graph, "people-who-meet-most") == PAIRS

    def test_limit(self, graph: GraphWriter) -> None:
        assert rows(graph, "people-who-meet-most", limit="3") == PAIRS[:3]


class TestMeetingNeighbourhood:
    def test_everything_the_meeting_links_to(self, graph: GraphWriter) -> None:
        def row(
            relationship: str,
            node: str,
            value: str,
            details: Mapping[str, Any] | None = None,
            assigned_to: str | None = None,
        ) -> dict[str, Any]:
            return {
                "relationship": relationship,
                "node": node,
                "value": value,
                "assigned_to": assigned_to,
                "details": dict(details or {}),
            }

        assert rows(graph, "meeting-neighbourhood", meeting=KICKOFF) == [
            row("ATTENDED", "Person", "Alice Chen", {"organizer": True}),
            row("ATTENDED", "Person", "Bob Martinez", {"organizer": False}),
            row("ATTENDED", "Person", "Jose Garcia", {"organizer": False}),
            row("DECIDED", "Decision", "Ship the beta in July."),
            row("DECIDED", "Decision", "Freeze the scope on June 1."),
            row("DISCUSSED", "Topic", "hiring"),
            row("DISCUSSED", "Topic", "q3 roadmap"),
            row("HAS_ACTION_ITEM", "ActionItem", "Draft the launch plan.", None, "Alice Chen"),
            row("HAS_ACTION_ITEM", "ActionItem", "Book the venue.", None, "Dana Kim"),
            row("RAISED", "Question", "Who signs off on the budget?"),
            row("SPOKE_IN", "Person", "Alice Chen", {"seconds": 120.0, "words": 300}),
            row("SPOKE_IN", "Person", "Bob Martinez", {"seconds": 60.0, "words": 150}),
            row("SPOKE_IN", "Person", "Jose Garcia", {"seconds": 30.0, "words": 80}),
        ]

    def test_an_item_nobody_owns_is_assigned_to_nobody(self, graph: GraphWriter) -> None:
        items = [
            (row["value"], row["assigned_to"])
            for row in rows(graph, "meeting-neighbourhood", meeting=BUDGET)
            if row["relationship"] == "HAS_ACTION_ITEM"
        ]
        assert items == [
            ("Send the budget to finance.", "Alice Chen"),
            ("Renegotiate the cloud contract.", "Bob Martinez"),
            ("Find a cheaper venue.", None),
        ]

    def test_an_unknown_meeting(self, graph: GraphWriter) -> None:
        assert rows(graph, "meeting-neighbourhood", meeting="not-a-meeting") == []


class TestBind:
    def test_defaults_fill_what_is_not_given(self) -> None:
        assert SAVED_QUERIES_BY_NAME["recurring-topics"].bind({}) == {
            "min_meetings": 2,
            "limit": 20,
        }
        assert SAVED_QUERIES_BY_NAME["open-action-items"].bind({}) == {"person": None}

    def test_values_are_normalized_like_the_graphs_keys(self) -> None:
        assert SAVED_QUERIES_BY_NAME["meetings-attended"].bind({"person": " José  GARCÍA "}) == {
            "person": "jose garcia"
        }
        assert SAVED_QUERIES_BY_NAME["meetings-attended"].bind({"person": "Bob@Example.COM"}) == {
            "person": "bob@example.com"
        }
        assert SAVED_QUERIES_BY_NAME["decisions-about"].bind({"topic": "Q3  Roadmap"}) == {
            "topic": "q3 roadmap"
        }

    @pytest.mark.parametrize(
        ("name", "given", "message"),
        [
            ("recurring-topics", {"topic": "x"}, "recurring-topics takes min_meetings, limit"),
            ("people-who-meet-most", {"limt": "3"}, "not limt"),
            ("meetings-attended", {}, "needs --param person=<person>"),
            ("decisions-about", {}, "needs --param topic=<topic>"),
            ("meeting-neighbourhood", {}, "needs --param meeting=<meeting>"),
            ("meetings-attended", {"person": "   "}, "person must not be empty"),
            ("recurring-topics", {"limit": "x"}, "limit must be a whole number, not 'x'"),
            ("recurring-topics", {"limit": "2.5"}, "limit must be a whole number"),
            ("recurring-topics", {"min_meetings": "0"}, "min_meetings must be at least 1"),
            ("people-who-meet-most", {"limit": "-3"}, "limit must be at least 1"),
        ],
    )
    def test_bad_parameters_are_refused(
        self, name: str, given: dict[str, str], message: str
    ) -> None:
        with pytest.raises(QueryParameterError, match=message):
            SAVED_QUERIES_BY_NAME[name].bind(given)


class TestInjection:
    TITLE = 'Q3 "plan"\'; MATCH (n) DETACH DELETE n //'
    NAME = "`x`) DETACH DELETE (n"
    TOPICS = ("{a: 1}", "`Topic` $rows }) RETURN 1 //", "x' OR 1=1 MATCH (n) DELETE n")
    DECISION = "'}); MATCH (n) DETACH DELETE n; //"

    @pytest.fixture
    def canary(self, neo4j_driver: Driver) -> Iterator[str]:
        """A node of another application in the same database."""
        neo4j_driver.execute_query("CREATE (:InjectionCanary {name: 'still here'})")
        yield "still here"
        neo4j_driver.execute_query("MATCH (canary:InjectionCanary) DELETE canary")

    def test_text_is_stored_verbatim_and_runs_nothing(
        self, graph: GraphWriter, neo4j_driver: Driver, canary: str
    ) -> None:
        meeting_id = "'}) MATCH (n) DETACH DELETE n //"
        graph.write(
            [
                Meeting(
                    id=meeting_id,
                    title=self.TITLE,
                    completed_at=_at(29),
                    attendees=(
                        Attendance(Person(self.NAME, "o'brien+`x`@example.com")),
                        Attendance(Person("{a: 1}")),
                    ),
                    topics=self.TOPICS,
                    decisions=(Statement("inject-d1", self.DECISION),),
                    action_items=(Task("inject-a1", "`x`", owner=Person("{a: 1}"), due="'}"),),
                )
            ]
        )

        records, _, _ = neo4j_driver.execute_query(
            "MATCH (meeting:Meeting {id: $id}) "
            "OPTIONAL MATCH (meeting)-[:DISCUSSED]->(topic:Topic) "
            "RETURN meeting.title AS title, collect([topic.name, topic.label]) AS topics",
            id=meeting_id,
        )
        [meeting] = records
        assert meeting["title"] == self.TITLE
        assert sorted(map(tuple, meeting["topics"])) == sorted(
            (normalize_name(topic), topic) for topic in self.TOPICS
        )
        assert rows(graph, "meeting-neighbourhood", meeting=meeting_id) == [
            {
                "relationship": "ATTENDED",
                "node": "Person",
                "value": self.NAME,
                "assigned_to": None,
                "details": {"organizer": False},
            },
            {
                "relationship": "ATTENDED",
                "node": "Person",
                "value": "{a: 1}",
                "assigned_to": None,
                "details": {"organizer": False},
            },
            {
                "relationship": "DECIDED",
                "node": "Decision",
                "value": self.DECISION,
                "assigned_to": None,
                "details": {},
            },
            *(
                {
                    "relationship": "DISCUSSED",
                    "node": "Topic",
                    "value": name,
                    "assigned_to": None,
                    "details": {},
                }
                for name in sorted(normalize_name(topic) for topic in self.TOPICS)
            ),
            {
                "relationship": "HAS_ACTION_ITEM",
                "node": "ActionItem",
                "value": "`x`",
                "assigned_to": "{a: 1}",
                "details": {},
            },
        ]
        assert rows(graph, "meetings-attended", person="O'Brien+`X`@example.com")[0]["meeting"] == (
            self.TITLE
        )
        assert rows(graph, "open-action-items", person="{A: 1}")[0]["due"] == "'}"
        assert rows(graph, "decisions-about", topic="{a: 1}") == [
            {"meeting": self.TITLE, "completed_at": _iso(29), "decision": self.DECISION}
        ]

        # Nothing else went: the other meetings, and another application's node.
        counted, _, _ = neo4j_driver.execute_query(
            "MATCH (meeting:Meeting) RETURN count(meeting) AS meetings"
        )
        assert counted[0]["meetings"] == len(MEETINGS) + 1
        canaries, _, _ = neo4j_driver.execute_query(
            "MATCH (canary:InjectionCanary) RETURN canary.name AS name"
        )
        assert [record["name"] for record in canaries] == [canary]

    @pytest.mark.parametrize(
        ("name", "given"),
        [
            ("meetings-attended", {"person": "x' OR 1=1 //"}),
            ("open-action-items", {"person": "') MATCH (n) DETACH DELETE n //"}),
            ("decisions-about", {"topic": "'}) MATCH (n) DETACH DELETE n //"}),
            ("meeting-neighbourhood", {"meeting": "x'}) OR true //"}),
        ],
    )
    def test_parameters_are_values_not_cypher(
        self, graph: GraphWriter, neo4j_driver: Driver, name: str, given: dict[str, str]
    ) -> None:
        assert rows(graph, name, **given) == []
        counted, _, _ = neo4j_driver.execute_query(
            "MATCH (meeting:Meeting) RETURN count(meeting) AS meetings"
        )
        assert counted[0]["meetings"] == len(MEETINGS)


def minutes(
    *args: str, tmp_path: Path, neo4j_uri: str | None = NEO4J_URI
) -> subprocess.CompletedProcess[str]:
    """`minutes ...` as a user runs it, on an embedded database of its own."""
    env = {"COLUMNS": "200"}  # rich would wrap the tables to a pipe's default 80 columns
    if neo4j_uri is not None:
        env["NEO4J_URI"] = neo4j_uri
    return run(*args, database_url=f"sqlite:///{tmp_path / 'minutes.db'}", cwd=tmp_path, env=env)


class TestGraphQueryCommand:
    def test_json_rows(self, graph: GraphWriter, neo4j_uri: str, tmp_path: Path) -> None:
        result = minutes(
            "graph",
            "query",
            "recurring-topics",
            "--param",
            "limit=2",
            "--json",
            tmp_path=tmp_path,
            neo4j_uri=neo4j_uri,
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == [
            {
                "topic": "q3 roadmap",
                "meetings": 3,
                "first_discussed": _iso(1),
                "last_discussed": _iso(15),
            },
            {
                "topic": "budget",
                "meetings": 2,
                "first_discussed": _iso(15),
                "last_discussed": _iso(22),
            },
        ]

    def test_table(self, graph: GraphWriter, neo4j_uri: str, tmp_path: Path) -> None:
        result = minutes(
            "graph",
            "query",
            "meetings-attended",
            "-p",
            "person=José García",
            tmp_path=tmp_path,
            neo4j_uri=neo4j_uri,
        )
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        header = next(line for line in lines if "meeting_id" in line)
        for column in ("meeting_id", "meeting", "completed_at", "organizer", "spoke_seconds"):
            assert column in header
        body = [line for line in lines if "-4000-" in line]
        assert [next(word for word in line.split() if "-4000-" in word) for line in body] == [
            RETRO,
            HIRING,
            KICKOFF,
        ]
        assert "30.0" in body[2]

    def test_an_unknown_query(self, tmp_path: Path) -> None:
        line = one_line_error(minutes("graph", "query", "nope", tmp_path=tmp_path))
        assert line == (
            "error: no saved query is named 'nope'; known: "
            + ", ".join(query.name for query in SAVED_QUERIES)
        )

    @pytest.mark.parametrize(
        ("params", "message"),
        [
            (["--param", "limit=x"], "error: limit must be a whole number, not 'x'"),
            (["--param", "limit=0"], "error: limit must be at least 1"),
            (["--param", "limit"], "error: --param 'limit': write it as key=value"),
            (
                ["--param", "topic=x"],
                "error: recurring-topics takes min_meetings, limit; not topic",
            ),
        ],
    )
    def test_a_bad_parameter(self, tmp_path: Path, params: list[str], message: str) -> None:
        result = minutes("graph", "query", "recurring-topics", *params, tmp_path=tmp_path)
        assert one_line_error(result) == message

    def test_a_missing_parameter(self, tmp_path: Path) -> None:
        result = minutes("graph", "query", "decisions-about", tmp_path=tmp_path)
        assert one_line_error(result) == "error: decisions-about needs --param topic=<topic>"

    def test_without_neo4j_configured(self, tmp_path: Path) -> None:
        result = minutes("graph", "query", "recurring-topics", tmp_path=tmp_path, neo4j_uri=None)
        assert one_line_error(result).startswith(
            "error: the graph is not configured: set NEO4J_URI"
        )

    def test_queries_lists_every_saved_query(self, tmp_path: Path) -> None:
        result = minutes("graph", "queries", tmp_path=tmp_path, neo4j_uri=None)
        assert result.returncode == 0, result.stderr
        names = [line.split("│")[1].strip() for line in result.stdout.splitlines() if "│" in line]
        assert [name for name in names if name] == [query.name for query in SAVED_QUERIES]
        assert "person (required)" in result.stdout
        assert "min_meetings=2, limit=20" in result.stdout
