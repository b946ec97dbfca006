"""Time loading meetings into Neo4j by our rebuild path against a bare UNWIND ... MERGE script.

    NEO4J_URI=bolt://127.0.0.1:7687 python bench/graph.py [--meetings 10000] [--repeats 1]

Both load the same synthetic meetings (3-8 people from a pool of 400, some known by email
and some by name only, 5-10 topics from a pool of 300, 2-5 decisions, 3-8 action items
owned by attendees, 0-3 open questions), the same number of meetings per transaction. Ours
is `pipeline.graph.rebuild_graph`: it reads the meetings from PostgreSQL and writes them
with `GraphWriter`, so its time includes that read, as a rebuild's does. The bare script
gets its rows ready-made in memory and runs one UNWIND ... MERGE per label and per
relationship type. Both first load a few batches untimed, so a Neo4j that has just started
does not charge its warm-up to the first; with `--repeats N` they alternate N times and the
best of each counts, so a busy neighbour on the machine slows both alike. Then it times the
sync of one newly completed meeting into the loaded graph (outbox event -> `sync_graph` ->
Neo4j), the median of a number of them.

It makes a migrated PostgreSQL database of its own and drops it at the end. In Neo4j it has
no place of its own: it WIPES every node minutes writes (Meeting, Person, Topic, Decision,
ActionItem, Question) in the database at NEO4J_URI, before, between and after the runs.
Never point it at a graph you want to keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, LiteralString

from neo4j import Driver, GraphDatabase, ManagedTransaction
from sqlalchemy import Engine, insert

from integrations.errors import IntegrationError
from integrations.graph.model import normalize_name
from integrations.graph.writer import GraphWriter
from pipeline.graph import DEFAULT_BATCH_SIZE, meeting_graph, rebuild_graph, sync_graph
from repositories.database import UnitOfWork, create_database_engine, create_session_factory
from repositories.models import Conversation, ConversationStatus, Participant, Synthesis
from scratch_database import scratch_database

NEO4J_URI = os.environ.get("NEO4J_URI", "bolt://127.0.0.1:7687")

SEED = 20240601
PEOPLE = 400
EMAIL_SHARE = 0.75  # the rest are known by name only, as from a calendar without addresses
TOPICS = 300
WARM_UP_BATCHES = 5  # per path; more made no measurable difference on a fresh Neo4j
SYNC_SAMPLES = 21  # odd, so the median is one of the syncs
INSERT_CHUNK = 2000  # rows per executemany: few round trips, bounded parameter lists

Row = dict[str, Any]
Statements = list[tuple[LiteralString, list[Row]]]

# Synthetic vocabulary: enough words that texts differ in length and content, as notes do.
FIRST_NAMES = (
    "Ann", "Bob", "Chloé", "David", "Elena", "Farid", "Grace", "Hiro", "Inès", "Jonas",
    "Kavya", "Liam", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoë", "Amara", "Bruno", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Lee", "Stone", "García", "Okafor", "Novak", "Müller", "Tanaka", "Silva", "Kowalski",
    "Haddad", "Johansson", "Rossi", "Nguyen", "Patel", "Schmidt", "Dubois", "Costa", "Kim",
    "O'Brien", "Andersen", "Moreau", "Ivanova", "Chen", "Mensah", "Fischer", "Santos",
    "Larsen", "Walsh", "Petrov", "Yilmaz",
)  # fmt: skip
AREAS = (
    "Billing", "Onboarding", "Search", "Checkout", "Mobile app", "Data platform", "Pricing",
    "Security", "Support", "Hiring", "Q3", "Q4", "Partner API", "Analytics", "Design system",
    "Infrastructure", "Compliance", "Marketing site", "Notifications", "Reporting",
)  # fmt: skip
SUBJECTS = (
    "roadmap", "migration", "launch", "budget", "incident review", "retention", "latency",
    "backlog", "contract renewal", "pilot", "rollout plan", "metrics", "test coverage",
    "vendor choice", "beta feedback", "release notes", "SLA", "documentation", "staffing",
    "pricing page",
)  # fmt: skip
MEETING_KINDS = ("sync", "review", "planning", "retro", "kickoff", "weekly", "deep dive")
VERBS = ("ship", "draft", "review", "freeze", "migrate", "measure", "schedule", "split", "test")
OBJECTS = (
    "the first milestone", "the rollback plan", "the customer email", "the dashboards",
    "the API contract", "the cost estimate", "the staging environment", "the FAQ",
    "the on-call rota", "the load test",
)  # fmt: skip
DEADLINES = ("Friday", "next week", "end of sprint", "2024-07-01", "Monday")
DUES = (None, None, *DEADLINES)  # an action item often has no due date


@dataclass(frozen=True, slots=True)
class PoolPerson:
    name: str
    email: str | None

    @property
    def key(self) -> str:
        # `Person.key`: the bare script keys people as the graph's model does.
        return self.email.lower() if self.email else f"name:{normalize_name(self.name)}"


@dataclass(frozen=True, slots=True)
class Attendee:
    person: PoolPerson
    organizer: bool
    spoken_seconds: float | None
    word_count: int | None


@dataclass(frozen=True, slots=True)
class SyntheticMeeting:
    id: uuid.UUID
    title: str
    platform: str
    language: str
    started_at: datetime
    completed_at: datetime
    duration_seconds: float
    summary: str
    attendees: list[Attendee]
    topics: list[str]
    decisions: list[str]
    action_items: list[Row]  # {"text", "owner", "due"}, as synthesis stores them
    questions: list[str]


def people_pool(rng: random.Random) -> list[PoolPerson]:
    # Every name distinct once normalized, so a name-only person is never resolved to an
    # email person: the bare script then keys everyone as `Person.key` says, with no lookup.
    names = rng.sample([f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES], PEOPLE)
    return [PoolPerson(name, email(name) if rng.random() < EMAIL_SHARE else None) for name in names]


def email(name: str) -> str:
    local = normalize_name(name).replace("'", "").replace(" ", ".")
    return f"{local}@example.com"


def topic_pool(rng: random.Random) -> list[str]:
    return rng.sample([f"{area} {subject}" for area in AREAS for subject in SUBJECTS], TOPICS)


def make_meetings(count: int, rng: random.Random) -> list[SyntheticMeeting]:
    people = people_pool(rng)
    topics = topic_pool(rng)
    start = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
    meetings = []
    for index in range(count):
        attendees = [
            attendee(rng, person, organizer=position == 0)
            for position, person in enumerate(rng.sample(people, rng.randint(3, 8)))
        ]
        labels = rng.sample(topics, rng.randint(5, 10))
        started_at = start + timedelta(minutes=47 * index)
        duration = float(rng.randint(600, 5400))
        meetings.append(
            SyntheticMeeting(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                title=f"{labels[0]} {rng.choice(MEETING_KINDS)}",
                platform=rng.choice(("zoom", "meet", "teams")),
                language=rng.choice(("en", "en", "en", "fr", "de")),
                started_at=started_at,
                completed_at=started_at + timedelta(seconds=duration + rng.randint(120, 900)),
                duration_seconds=duration,
                summary=" ".join(sentence(rng, labels) for _ in range(rng.randint(2, 5))),
                attendees=attendees,
                topics=labels,
                decisions=[
                    f"{rng.choice(VERBS).capitalize()} {rng.choice(OBJECTS)} for "
                    f"{rng.choice(labels).lower()} by {rng.choice(DEADLINES)}."
                    for _ in range(rng.randint(2, 5))
                ],
                action_items=[
                    {
                        "text": f"{rng.choice(VERBS).capitalize()} {rng.choice(OBJECTS)} "
                        f"({rng.choice(labels).lower()})",
                        # Now and then the notes name no owner.
                        "owner": rng.choice(attendees).person.name if rng.random() < 0.9 else None,
                        "due": rng.choice(DUES),
                    }
                    for _ in range(rng.randint(3, 8))
                ],
                questions=[
                    f"Should we {rng.choice(VERBS)} {rng.choice(OBJECTS)} before the "
                    f"{rng.choice(labels).lower()}?"
                    for _ in range(rng.randint(0, 3))
                ],
            )
        )
    return meetings


def attendee(rng: random.Random, person: PoolPerson, *, organizer: bool) -> Attendee:
    # Some say nothing, or the transcript named no speaker for them.
    if rng.random() < 0.15:
        return Attendee(person, organizer, spoken_seconds=None, word_count=None)
    seconds = round(rng.uniform(20, 1500), 3)
    return Attendee(person, organizer, spoken_seconds=seconds, word_count=int(seconds * 2.5))


def sentence(rng: random.Random, labels: Sequence[str]) -> str:
    return (
        f"The team discussed the {rng.choice(labels).lower()} and agreed to "
        f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} once the {rng.choice(labels).lower()} "
        f"is settled."
    )


# PostgreSQL: the source our rebuild reads. Setup, not timed.


@contextmanager
def bench_database() -> Iterator[Engine]:
    """An engine on a migrated database of this run's own, dropped at the end."""
    with scratch_database() as url:
        engine = create_database_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def store(engine: Engine, meetings: Sequence[SyntheticMeeting]) -> None:
    """Completed conversations with people and notes, as the pipeline leaves them.

    Core executemany in chunks (one multi-row INSERT per chunk and table): the ORM, a
    row at a time, would make the setup take longer than the runs it is for.
    """
    with engine.begin() as connection:
        for start in range(0, len(meetings), INSERT_CHUNK):
            chunk = meetings[start : start + INSERT_CHUNK]
            connection.execute(
                insert(Conversation),
                [
                    {
                        "id": m.id,
                        "title": m.title,
                        "status": ConversationStatus.COMPLETED,
                        "source_uri": f"/recordings/{m.id}.wav",
                        "platform": m.platform,
                        "started_at": m.started_at,
                        "ended_at": m.started_at + timedelta(seconds=m.duration_seconds),
                        "language": m.language,
                        "duration_seconds": m.duration_seconds,
                        "transcription_provider": "bench",
                        "completed_at": m.completed_at,
                    }
                    for m in chunk
                ],
            )
            connection.execute(
                insert(Participant),
                [
                    {
                        "conversation_id": m.id,
                        "name": a.person.name,
                        "email": a.person.email,
                        "is_organizer": a.organizer,
                        "spoken_seconds": a.spoken_seconds,
                        "word_count": a.word_count,
                    }
                    for m in chunk
                    for a in m.attendees
                ],
            )
            connection.execute(
                insert(Synthesis),
                [
                    {
                        "conversation_id": m.id,
                        "summary": m.summary,
                        "key_decisions": m.decisions,
                        "action_items": m.action_items,
                        "open_questions": m.questions,
                        "key_topics": m.topics,
                        "provider": "bench",
                    }
                    for m in chunk
                ],
            )


# The bare script: its own Cypher, every value a parameter.

BARE_SCHEMA: tuple[LiteralString, ...] = (
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:Meeting) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:Person) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:Topic) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:Decision) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:ActionItem) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT IF NOT EXISTS FOR (n:Question) REQUIRE n.id IS UNIQUE",
)
BARE_MEETINGS = """
UNWIND $rows AS row
MERGE (m:Meeting {id: row.id})
SET m.title = row.title, m.completed_at = row.completed_at, m.started_at = row.started_at,
    m.duration_seconds = row.duration_seconds, m.platform = row.platform,
    m.language = row.language, m.summary = row.summary
"""
BARE_PEOPLE = """
UNWIND $rows AS row
MERGE (p:Person {key: row.key})
SET p.name = row.name, p.name_key = row.name_key, p.email = row.email
"""
BARE_TOPICS = """
UNWIND $rows AS row
MERGE (t:Topic {name: row.name})
ON CREATE SET t.label = row.label
"""
BARE_DECISIONS = """
UNWIND $rows AS row
MERGE (d:Decision {id: row.id})
SET d.text = row.text, d.position = row.position
"""
BARE_QUESTIONS = """
UNWIND $rows AS row
MERGE (q:Question {id: row.id})
SET q.text = row.text, q.position = row.position
"""
BARE_ACTION_ITEMS = """
UNWIND $rows AS row
MERGE (a:ActionItem {id: row.id})
SET a.text = row.text, a.due = row.due, a.position = row.position
"""
BARE_ATTENDED = """
UNWIND $rows AS row
MATCH (p:Person {key: row.person})
MATCH (m:Meeting {id: row.meeting})
MERGE (p)-[r:ATTENDED]->(m)
SET r.organizer = row.organizer
"""
BARE_SPOKE_IN = """
UNWIND $rows AS row
MATCH (p:Person {key: row.person})
MATCH (m:Meeting {id: row.meeting})
MERGE (p)-[r:SPOKE_IN]->(m)
SET r.seconds = row.seconds, r.words = row.words
"""
BARE_DISCUSSED = """
UNWIND $rows AS row
MATCH (m:Meeting {id: row.meeting})
MATCH (t:Topic {name: row.topic})
MERGE (m)-[:DISCUSSED]->(t)
"""
BARE_DECIDED = """
UNWIND $rows AS row
MATCH (m:Meeting {id: row.meeting})
MATCH (d:Decision {id: row.id})
MERGE (m)-[:DECIDED]->(d)
"""
BARE_RAISED = """
UNWIND $rows AS row
MATCH (m:Meeting {id: row.meeting})
MATCH (q:Question {id: row.id})
MERGE (m)-[:RAISED]->(q)
"""
BARE_HAS_ACTION_ITEM = """
UNWIND $rows AS row
MATCH (m:Meeting {id: row.meeting})
MATCH (a:ActionItem {id: row.id})
MERGE (m)-[:HAS_ACTION_ITEM]->(a)
"""
BARE_ASSIGNED_TO = """
UNWIND $rows AS row
MATCH (a:ActionItem {id: row.id})
MATCH (p:Person {key: row.person})
MERGE (a)-[:ASSIGNED_TO]->(p)
"""

COUNT_NODES: LiteralString = (
    "MATCH (n) WHERE n:Meeting OR n:Person OR n:Topic OR n:Decision OR n:ActionItem "
    "OR n:Question RETURN count(n) AS count"
)
# Every relationship minutes writes starts at one of its nodes.
COUNT_RELATIONSHIPS: LiteralString = (
    "MATCH (n)-[r]->() WHERE n:Meeting OR n:Person OR n:Topic OR n:Decision OR n:ActionItem "
    "OR n:Question RETURN count(r) AS count"
)


def item_id(meeting_id: uuid.UUID, kind: str, position: int) -> str:
    # The ids `meeting_graph` gives, so both runs write the same nodes.
    return str(uuid.uuid5(meeting_id, f"{kind}:{position}"))


def bare_batch(meetings: Sequence[SyntheticMeeting]) -> Statements:
    """One transaction's statements and their rows: the nodes first, then the links."""
    meeting_rows: list[Row] = []
    people: dict[str, Row] = {}
    topics: dict[str, Row] = {}
    decisions: list[Row] = []
    questions: list[Row] = []
    action_items: list[Row] = []
    attended: list[Row] = []
    spoke_in: list[Row] = []
    discussed: list[Row] = []
    decided: list[Row] = []
    raised: list[Row] = []
    has_action_item: list[Row] = []
    assigned_to: list[Row] = []
    for m in meetings:
        meeting = str(m.id)
        meeting_rows.append(
            {
                "id": meeting,
                "title": m.title,
                "completed_at": m.completed_at,
                "started_at": m.started_at,
                "duration_seconds": m.duration_seconds,
                "platform": m.platform,
                "language": m.language,
                "summary": m.summary,
            }
        )
        keys: dict[str, str] = {}
        for a in m.attendees:
            key = keys[a.person.name] = a.person.key
            people[key] = {
                "key": key,
                "name": a.person.name,
                "name_key": normalize_name(a.person.name),
                "email": a.person.email.lower() if a.person.email else None,
            }
            attended.append({"person": key, "meeting": meeting, "organizer": a.organizer})
            if a.spoken_seconds is not None:
                spoke_in.append(
                    {
                        "person": key,
                        "meeting": meeting,
                        "seconds": a.spoken_seconds,
                        "words": a.word_count or 0,
                    }
                )
        for label in m.topics:
            name = normalize_name(label)
            topics[name] = {"name": name, "label": label}
            discussed.append({"meeting": meeting, "topic": name})
        for kind, nodes, links, texts in (
            ("decision", decisions, decided, m.decisions),
            ("question", questions, raised, m.questions),
        ):
            for position, statement in enumerate(texts):
                node = item_id(m.id, kind, position)
                nodes.append({"id": node, "text": statement, "position": position})
                links.append({"meeting": meeting, "id": node})
        for position, item in enumerate(m.action_items):
            node = item_id(m.id, "action_item", position)
            action_items.append(
                {"id": node, "text": item["text"], "due": item["due"], "position": position}
            )
            has_action_item.append({"meeting": meeting, "id": node})
            if item["owner"] is not None:
                assigned_to.append({"id": node, "person": keys[item["owner"]]})
    return [
        (BARE_MEETINGS, meeting_rows),
        (BARE_PEOPLE, list(people.values())),
        (BARE_TOPICS, list(topics.values())),
        (BARE_DECISIONS, decisions),
        (BARE_QUESTIONS, questions),
        (BARE_ACTION_ITEMS, action_items),
        (BARE_ATTENDED, attended),
        (BARE_SPOKE_IN, spoke_in),
        (BARE_DISCUSSED, discussed),
        (BARE_DECIDED, decided),
        (BARE_RAISED, raised),
        (BARE_HAS_ACTION_ITEM, has_action_item),
        (BARE_ASSIGNED_TO, assigned_to),
    ]


def _run_statements(tx: ManagedTransaction, statements: Statements) -> None:
    for statement, rows in statements:
        if rows:
            tx.run(statement, rows=rows).consume()


def run_bare(driver: Driver, batches: Sequence[Statements]) -> None:
    for statement in BARE_SCHEMA:
        driver.execute_query(statement)
    with driver.session() as session:
        for batch in batches:
            session.execute_write(_run_statements, batch)


# The benchmark itself.


class BenchError(Exception):
    """The benchmark could not finish: a sync failed."""


@dataclass(frozen=True)
class Load:
    seconds: float
    nodes: int
    relationships: int

    @property
    def nodes_per_second(self) -> float:
        return self.nodes / self.seconds


def count(driver: Driver, query: LiteralString) -> int:
    records, _, _ = driver.execute_query(query)
    return int(records[0]["count"])


def loaded(driver: Driver, seconds: float) -> Load:
    return Load(seconds, count(driver, COUNT_NODES), count(driver, COUNT_RELATIONSHIPS))


def time_syncs(
    uow: UnitOfWork, writer: GraphWriter, engine: Engine, meetings: Sequence[SyntheticMeeting]
) -> list[float]:
    """Seconds of each `sync_graph` that pushes one newly completed meeting."""
    store(engine, meetings)
    seconds = []
    for meeting in meetings:
        # What the completion stage commits (not timed): the event the sync picks up.
        with uow:
            uow.graph_outbox.add_event(
                meeting.id, "conversation.completed", {"conversation_id": str(meeting.id)}
            )
        started = time.perf_counter()
        report = sync_graph(uow=uow, writer=writer, batch_size=DEFAULT_BATCH_SIZE)
        seconds.append(time.perf_counter() - started)
        if report.meetings != 1 or report.failed or report.pending:
            raise BenchError(f"the sync of meeting {meeting.id} did not go through: {report}")
    return seconds


def warm_up(
    uow: UnitOfWork, writer: GraphWriter, driver: Driver, batches: Sequence[Statements]
) -> None:
    """Both paths write their first batches once, untimed (the rounds wipe the graph first).

    A Neo4j that has just started compiles its code and plans each query on first use:
    several seconds, which would otherwise fall on whichever run came first.
    """
    with uow:
        page = uow.conversations.list_completed_with_notes(
            limit=WARM_UP_BATCHES * DEFAULT_BATCH_SIZE
        )
    writer.wipe()
    for start in range(0, len(page), DEFAULT_BATCH_SIZE):
        chunk = page[start : start + DEFAULT_BATCH_SIZE]
        writer.write([meeting_graph(conversation) for conversation in chunk], replace=False)
    writer.wipe()
    run_bare(driver, batches[:WARM_UP_BATCHES])


def time_ours(uow: UnitOfWork, writer: GraphWriter, driver: Driver) -> Load:
    started = time.perf_counter()
    rebuild_graph(uow=uow, writer=writer, batch_size=DEFAULT_BATCH_SIZE)
    return loaded(driver, time.perf_counter() - started)


def time_bare(driver: Driver, batches: Sequence[Statements]) -> Load:
    started = time.perf_counter()
    run_bare(driver, batches)
    return loaded(driver, time.perf_counter() - started)


def run(meeting_count: int, repeats: int) -> None:
    rng = random.Random(SEED)
    # One draw for all: the meetings synced at the end share the pools of people and topics.
    meetings = make_meetings(meeting_count + SYNC_SAMPLES, rng)
    loaded_meetings, synced_meetings = meetings[:meeting_count], meetings[meeting_count:]
    batches = [
        bare_batch(loaded_meetings[start : start + DEFAULT_BATCH_SIZE])
        for start in range(0, meeting_count, DEFAULT_BATCH_SIZE)
    ]
    writer = GraphWriter.connect(NEO4J_URI)
    driver = GraphDatabase.driver(NEO4J_URI)
    ours: list[Load] = []
    bare: list[Load] = []
    try:
        with bench_database() as engine:
            started = time.perf_counter()
            store(engine, loaded_meetings)
            print(
                f"  stored {meeting_count} meetings in PostgreSQL in "
                f"{time.perf_counter() - started:.1f} s (not timed)"
            )
            uow = UnitOfWork(create_session_factory(engine))
            warm_up(uow, writer, driver, batches)
            for round_number in range(1, repeats + 1):
                # Untimed: rebuild_graph wipes too, in its time, and then finds nothing.
                writer.wipe()
                ours.append(time_ours(uow, writer, driver))
                writer.wipe()
                bare.append(time_bare(driver, batches))
                print(
                    f"  round {round_number}: ours {ours[-1].seconds:.2f} s, "
                    f"bare {bare[-1].seconds:.2f} s"
                )
                same_graph(ours[-1], bare[-1])
            syncs = time_syncs(uow, writer, engine, synced_meetings)
            writer.wipe()
    finally:
        writer.close()
        driver.close()
    report(meeting_count, repeats, fastest(ours), fastest(bare), syncs)


def fastest(loads: Sequence[Load]) -> Load:
    return min(loads, key=lambda load: load.seconds)


def same_graph(ours: Load, bare: Load) -> None:
    if (ours.nodes, ours.relationships) != (bare.nodes, bare.relationships):
        print(
            f"WARNING: the two did not write the same graph: ours {ours.nodes} nodes and "
            f"{ours.relationships} relationships, bare {bare.nodes} and {bare.relationships}"
        )


def report(meetings: int, repeats: int, ours: Load, bare: Load, syncs: Sequence[float]) -> None:
    print(
        f"meetings: {meetings}, {DEFAULT_BATCH_SIZE} per transaction, people from a pool of "
        f"{PEOPLE}, topics from a pool of {TOPICS}, seed {SEED}, {os.cpu_count()} CPUs"
    )
    print(f"neo4j: {NEO4J_URI}, best of {repeats} alternating rounds after a warm-up")
    for name, load in (
        ("ours (rebuild_graph: PostgreSQL read + GraphWriter)", ours),
        ("bare (UNWIND ... MERGE per label and relationship type)", bare),
    ):
        print(
            f"{name}: {load.seconds:.2f} s, {load.nodes} nodes, {load.relationships} "
            f"relationships, {load.nodes_per_second:.0f} nodes/s"
        )
    print(
        f"ours {ours.nodes_per_second:.0f} nodes/s, bare {bare.nodes_per_second:.0f} nodes/s, "
        f"ratio {ours.nodes_per_second / bare.nodes_per_second:.2f} (target >= 0.8)"
    )
    print(
        f"sync of one meeting (outbox event -> sync_graph -> Neo4j, into the loaded graph): "
        f"median {1000 * statistics.median(syncs):.1f} ms of {len(syncs)} "
        f"(min {1000 * min(syncs):.1f}, max {1000 * max(syncs):.1f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=1, help="alternating rounds, best of")
    options = parser.parse_args()
    if options.meetings < 1 or options.repeats < 1:
        parser.error("--meetings and --repeats must be at least 1")
    try:
        run(options.meetings, options.repeats)
    except (BenchError, IntegrationError) as error:
        sys.exit(f"graph bench: {error}")


if __name__ == "__main__":
    main()
