"""The graph writer against a real Neo4j: shape, idempotence, replacement, people."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from neo4j import Driver

from integrations.graph.model import Attendance, Meeting, Person, Statement, Task
from integrations.graph.writer import GraphUnavailableError, GraphWriteError, GraphWriter
from tests.graph import node_counts, relationship_counts, rows, snapshot

ANA = Person("Ana Lima", "Ana.Lima@Example.com")
BEN = Person("Ben Okoro")
CARLA = Person("Carla Díaz", "carla@example.com")


def meeting(
    id: str,
    *,
    attendees: tuple[Attendance, ...] = (
        Attendance(ANA, organizer=True, spoken_seconds=61.5, spoken_words=140),
        Attendance(BEN, spoken_seconds=20.0, spoken_words=41),
        Attendance(CARLA),
    ),
    topics: tuple[str, ...] = ("Budget", "Hiring plan"),
    decisions: tuple[str, ...] = ("Ship on Friday", "Freeze the API"),
    action_items: tuple[tuple[str, Person | None], ...] = (
        ("Send the budget", ANA),
        ("Book the room", BEN),
        ("Draft the post", None),
    ),
    questions: tuple[str, ...] = ("Who owns QA?",),
) -> Meeting:
    return Meeting(
        id=id,
        title=f"Meeting {id}",
        completed_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
        attendees=attendees,
        topics=topics,
        decisions=[Statement(f"{id}-d{n}", text) for n, text in enumerate(decisions)],
        action_items=[
            Task(f"{id}-a{n}", text, owner=owner) for n, (text, owner) in enumerate(action_items)
        ],
        questions=[Statement(f"{id}-q{n}", text) for n, text in enumerate(questions)],
    )


class TestShape:
    def test_a_meeting_is_exactly_its_nodes_and_relationships(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1")])

        assert node_counts(neo4j_driver) == Counter(
            Meeting=1, Person=3, Topic=2, Decision=2, ActionItem=3, Question=1
        )
        assert relationship_counts(neo4j_driver) == Counter(
            ATTENDED=3, SPOKE_IN=2, DISCUSSED=2, DECIDED=2, HAS_ACTION_ITEM=3, RAISED=1,
            ASSIGNED_TO=2,
        )  # fmt: skip
        people = rows(
            neo4j_driver,
            "MATCH (p:Person)-[a:ATTENDED]->(:Meeting {id: 'm1'}) "
            "OPTIONAL MATCH (p)-[s:SPOKE_IN]->(:Meeting {id: 'm1'}) "
            "RETURN p.key AS key, p.name AS name, a.organizer AS organizer, "
            "s.seconds AS seconds, s.words AS words ORDER BY key",
        )
        assert people == [
            {"key": "ana.lima@example.com", "name": "Ana Lima", "organizer": True,
             "seconds": 61.5, "words": 140},
            {"key": "carla@example.com", "name": "Carla Díaz", "organizer": False,
             "seconds": None, "words": None},
            {"key": "name:ben okoro", "name": "Ben Okoro", "organizer": False,
             "seconds": 20.0, "words": 41},
        ]  # fmt: skip
        owed = rows(
            neo4j_driver,
            "MATCH (a:ActionItem)-[:ASSIGNED_TO]->(p:Person) RETURN a.text AS item, p.key AS key "
            "ORDER BY item",
        )
        assert owed == [
            {"item": "Book the room", "key": "name:ben okoro"},
            {"item": "Send the budget", "key": "ana.lima@example.com"},
        ]

    def test_the_unique_constraints_exist(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1")])

        constraints = rows(
            neo4j_driver,
            "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties "
            "RETURN type, labelsOrTypes[0] AS label, properties[0] AS property",
        )
        unique = {(c["label"], c["property"]) for c in constraints if c["type"] == "UNIQUENESS"}
        assert unique >= {
            ("Meeting", "id"),
            ("Person", "key"),
            ("Topic", "name"),
            ("Decision", "id"),
            ("ActionItem", "id"),
            ("Question", "id"),
        }

    def test_topics_are_one_node_whatever_their_case_spacing_and_accents(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1", topics=("Café  Menu", "cafe menu"))])
        graph_writer.write([meeting("m2", topics=("CAFÉ MENU",))])

        topics = rows(neo4j_driver, "MATCH (t:Topic) RETURN t.name AS name, t.label AS label")
        assert topics == [{"name": "cafe menu", "label": "Café Menu"}]
        assert relationship_counts(neo4j_driver)["DISCUSSED"] == 2

    def test_an_owner_who_did_not_attend_owes_the_item_without_attending(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        outsider = Person("Dana Fox")
        graph_writer.write([meeting("m1", action_items=(("Review the contract", outsider),))])

        found = rows(
            neo4j_driver,
            "MATCH (p:Person {key: 'name:dana fox'}) "
            "RETURN EXISTS { (p)-[:ATTENDED]->() } AS attended, "
            "[(p)<-[:ASSIGNED_TO]-(a) | a.text] AS owes",
        )
        assert found == [{"attended": False, "owes": ["Review the contract"]}]


class TestIdempotence:
    def test_writing_a_meeting_twice_gives_the_same_graph(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1"), meeting("m2")])
        once = snapshot(neo4j_driver)
        graph_writer.write([meeting("m1"), meeting("m2")])
        graph_writer.write([meeting("m2")])

        assert snapshot(neo4j_driver) == once

    def test_rewriting_a_meeting_replaces_its_own_items_and_leaves_others_alone(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1"), meeting("m2", topics=("Budget",))])
        untouched = rows(
            neo4j_driver, "MATCH (:Meeting {id: 'm2'})-[link]-(n) RETURN type(link) AS t, n"
        )

        graph_writer.write(
            [
                meeting(
                    "m1",
                    attendees=(Attendance(ANA, organizer=True),),
                    topics=("Offsite",),
                    decisions=("Ship on Monday",),
                    action_items=(("Send the budget", ANA),),
                    questions=(),
                )
            ]
        )

        mine = rows(
            neo4j_driver,
            "MATCH (:Meeting {id: 'm1'})-[link]-(n) "
            "RETURN type(link) AS type, coalesce(n.key, n.name, n.text) AS value ORDER BY type",
        )
        assert mine == [
            {"type": "ATTENDED", "value": "ana.lima@example.com"},
            {"type": "DECIDED", "value": "Ship on Monday"},
            {"type": "DISCUSSED", "value": "offsite"},
            {"type": "HAS_ACTION_ITEM", "value": "Send the budget"},
        ]
        assert (
            rows(neo4j_driver, "MATCH (:Meeting {id: 'm2'})-[link]-(n) RETURN type(link) AS t, n")
            == untouched
        )
        # "Hiring plan" was m1's alone: no meeting discusses it any more, so it is gone;
        # "Budget" is still m2's.
        assert {r["name"] for r in rows(neo4j_driver, "MATCH (t:Topic) RETURN t.name AS name")} == {
            "budget",
            "offsite",
        }
        # Nothing of m1's old items is left, and no item hangs without its meeting.
        assert (
            rows(
                neo4j_driver,
                "MATCH (n) WHERE (n:Decision OR n:ActionItem OR n:Question) "
                "AND NOT (n)<--(:Meeting) RETURN n",
            )
            == []
        )
        assert node_counts(neo4j_driver)["Decision"] == 1 + 2

    def test_deleting_a_meeting_removes_what_only_it_linked_to(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1"), meeting("m2", attendees=(Attendance(ANA),))])

        graph_writer.delete(["m1"])

        assert node_counts(neo4j_driver) == Counter(
            Meeting=1, Person=2, Topic=2, Decision=2, ActionItem=3, Question=1
        )  # Ben stays: he owes one of m2's items. Carla attended only m1.
        assert rows(neo4j_driver, "MATCH (p:Person {key: 'carla@example.com'}) RETURN p") == []


class TestPeople:
    @pytest.mark.parametrize("email_first", [False, True], ids=["name-first", "email-first"])
    def test_a_name_and_a_later_or_earlier_email_are_one_person(
        self, graph_writer: GraphWriter, neo4j_driver: Driver, email_first: bool
    ) -> None:
        by_name = meeting(
            "by-name",
            attendees=(Attendance(Person("  josé   GARCÍA "), spoken_seconds=5.0, spoken_words=9),),
            action_items=(("Call the bank", Person("Jose Garcia")),),
        )
        by_email = meeting(
            "by-email",
            attendees=(Attendance(Person("José García", "jose@example.com")),),
            action_items=(),
        )
        for one in [by_email, by_name] if email_first else [by_name, by_email]:
            graph_writer.write([one])

        people = rows(
            neo4j_driver,
            "MATCH (p:Person) RETURN p.key AS key, p.email AS email, "
            "[(p)-[:ATTENDED]->(m) | m.id] AS attended, [(p)-[:SPOKE_IN]->(m) | m.id] AS spoke, "
            "[(p)<-[:ASSIGNED_TO]-(a) | a.text] AS owes",
        )
        assert len(people) == 1
        [person] = people
        assert person["key"] == person["email"] == "jose@example.com"
        assert sorted(person["attended"]) == ["by-email", "by-name"]
        assert person["spoke"] == ["by-name"]
        assert person["owes"] == ["Call the bank"]

    def test_a_name_written_with_and_without_its_polish_letter_is_one_person(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write(
            [meeting("a", attendees=(Attendance(Person("Łukasz Nowak")),), action_items=())]
        )
        graph_writer.write(
            [
                meeting(
                    "b",
                    attendees=(Attendance(Person("Lukasz Nowak")),),
                    action_items=(("Book the room", Person("ŁUKASZ NOWAK")),),
                )
            ]
        )

        people = rows(
            neo4j_driver,
            "MATCH (p:Person) RETURN p.key AS key, [(p)-[:ATTENDED]->(m) | m.id] AS attended, "
            "[(p)<-[:ASSIGNED_TO]-(a) | a.text] AS owes",
        )
        assert len(people) == 1
        [person] = people
        assert person["key"] == "name:lukasz nowak"
        assert sorted(person["attended"]) == ["a", "b"]
        assert person["owes"] == ["Book the room"]

    def test_one_batch_resolves_a_name_to_the_email_it_also_holds(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write(
            [
                meeting("a", attendees=(Attendance(Person("Ana Lima")),)),
                meeting("b", attendees=(Attendance(ANA),)),
            ]
        )

        keys = rows(neo4j_driver, "MATCH (p:Person) RETURN p.key AS key ORDER BY key")
        assert {row["key"] for row in keys} >= {"ana.lima@example.com"}
        assert "name:ana lima" not in {row["key"] for row in keys}

    def test_a_name_two_emails_share_stays_a_person_of_its_own(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write(
            [
                meeting("a", attendees=(Attendance(Person("Sam Lee", "sam@one.example")),)),
                meeting("b", attendees=(Attendance(Person("Sam Lee", "sam@two.example")),)),
                meeting("c", attendees=(Attendance(Person("Sam Lee")),)),
            ]
        )

        keys = rows(
            neo4j_driver,
            "MATCH (p:Person) WHERE p.name_key = 'sam lee' RETURN p.key AS key ORDER BY key",
        )
        assert [row["key"] for row in keys] == [
            "name:sam lee",
            "sam@one.example",
            "sam@two.example",
        ]


class TestErrors:
    def test_an_unreachable_neo4j_is_one_clear_error(self) -> None:
        writer = GraphWriter.connect("bolt://127.0.0.1:1", retry_seconds=0.5)
        try:
            with pytest.raises(GraphUnavailableError, match=r"^Neo4j is unreachable: ") as raised:
                writer.write([meeting("m1")])
        finally:
            writer.close()
        assert "\n" not in str(raised.value)

    def test_a_value_neo4j_refuses_rolls_the_whole_batch_back(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        # A unique constraint's index cannot hold a key this long.
        huge_topic = "budget " * 5000

        with pytest.raises(GraphWriteError, match=r"^Neo4j refused it: .*too large to index"):
            graph_writer.write([meeting("fine"), meeting("broken", topics=(huge_topic,))])

        assert node_counts(neo4j_driver) == Counter()


class TestWipe:
    def test_a_hub_with_many_relationships_goes_and_other_applications_nodes_stay(
        self, graph_writer: GraphWriter, neo4j_driver: Driver
    ) -> None:
        graph_writer.write([meeting("m1")])
        # More links than a wipe batch holds, all on one node: a topic every meeting discussed.
        neo4j_driver.execute_query(
            "MERGE (hub:Topic {name: 'budget'}) "
            "WITH hub UNWIND range(1, $meetings) AS n "
            "CREATE (:Meeting {id: 'bulk-' + n})-[:DISCUSSED]->(hub)",
            meetings=25_000,
        )
        # Another application's nodes in the same database, one of them linked to ours.
        neo4j_driver.execute_query(
            "MATCH (hub:Topic {name: 'budget'}) "
            "CREATE (hub)<-[:MENTIONS]-(:Document {title: 'Plan'})-[:CITES]->(:Document)"
        )
        try:
            graph_writer.wipe()

            assert node_counts(neo4j_driver) == Counter(Document=2)
            assert relationship_counts(neo4j_driver) == Counter(CITES=1)
        finally:
            neo4j_driver.execute_query("MATCH (document:Document) DETACH DELETE document")
