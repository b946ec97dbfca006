"""Mirrors meetings into Neo4j with the official driver: batched, idempotent, parameterised."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, LiteralString, Self
from urllib.parse import urlsplit

from neo4j import Driver, GraphDatabase, ManagedTransaction, Query
from neo4j.exceptions import (
    AuthError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

from integrations.errors import IntegrationError, TransientIntegrationError
from integrations.graph import cypher
from integrations.graph.model import Meeting, Person, Statement
from integrations.people import normalize_name

# How long a managed transaction keeps retrying a transient failure (a deadlock, a leader
# switch, a server that is restarting) before the error reaches the caller.
DEFAULT_RETRY_SECONDS = 15.0


class GraphUnavailableError(TransientIntegrationError):
    """Neo4j cannot be reached (or refuses our credentials): nothing was written."""


class GraphWriteError(IntegrationError):
    """Neo4j refused what was written (the batch rolled back); asking again will not help."""


class GraphAddressError(IntegrationError):
    """NEO4J_URI is no address the driver speaks Bolt to (often the Browser's http:// one)."""


# Bolt, directly or routed through a cluster, each plain or with TLS.
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


def _check_address(uri: str) -> None:
    scheme = urlsplit(uri).scheme.lower()
    if scheme in BOLT_SCHEMES:
        return
    # Named by its scheme only: the rest of the address may hold credentials.
    browser = " (http:// is the Neo4j Browser's address)" if scheme in ("http", "https") else ""
    raise GraphAddressError(
        "NEO4J_URI must be a bolt:// or neo4j:// address (bolt+s://, neo4j+s:// with TLS), "
        f"e.g. bolt://127.0.0.1:7687{browser}"
    )


@contextmanager
def _neo4j_errors() -> Iterator[None]:
    # The error's code and message only: they name no credentials.
    try:
        yield
    except AuthError:
        raise GraphUnavailableError(
            "Neo4j refused the credentials (NEO4J_USER, NEO4J_PASSWORD)"
        ) from None
    except (ServiceUnavailable, SessionExpired) as error:
        raise GraphUnavailableError(f"Neo4j is unreachable: {_one_line(error)}") from None
    except TransientError as error:
        raise GraphUnavailableError(f"Neo4j is busy: {error.code}: {_one_line(error)}") from None
    except Neo4jError as error:
        raise GraphWriteError(f"Neo4j refused it: {error.code}: {_one_line(error)}") from None
    except DriverError as error:
        raise GraphUnavailableError(f"Neo4j driver error: {_one_line(error)}") from None


def _one_line(error: Exception) -> str:
    message = error.message if isinstance(error, Neo4jError) and error.message else str(error)
    return " ".join(message.split())


@dataclass
class _Rows:
    """One batch of meetings as the parameter lists of the MERGE statements."""

    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    absorbed: list[dict[str, str]] = field(default_factory=list)
    meetings: list[dict[str, Any]] = field(default_factory=list)

    def statements(self) -> list[tuple[LiteralString, list[dict[str, Any]]]]:
        # In this order: a meeting's links need its people, absorbing needs the email person.
        return [
            (cypher.MERGE_PEOPLE, list(self.people.values())),
            (cypher.ABSORB_PEOPLE, self.absorbed),
            (cypher.MERGE_MEETINGS, self.meetings),
        ]


class _People:
    """Which `Person.key` each person of a batch gets.

    One email is one person. A name without an email is the one person of that name who
    has an email, when exactly one does (in the graph or in this batch); otherwise it is
    `name:<normalized name>`. A `name:` person whose email turns up is absorbed into the
    email person.
    """

    def __init__(self, people: Sequence[Person], graph_keys: Mapping[str, Sequence[str]]) -> None:
        self._emails: dict[str, set[str]] = defaultdict(set)
        self._in_graph = {key for keys in graph_keys.values() for key in keys}
        for name_key, keys in graph_keys.items():
            self._emails[name_key].update(key for key in keys if not key.startswith("name:"))
        for person in people:
            if person.email:
                self._emails[person.name_key].add(person.key)

    def key(self, person: Person) -> str:
        if person.email:
            return person.key
        emails = self._emails.get(person.name_key, set())
        return next(iter(emails)) if len(emails) == 1 else person.key

    def absorbed(self) -> list[dict[str, str]]:
        return [
            {"name_only": f"name:{name_key}", "email": next(iter(emails))}
            for name_key, emails in self._emails.items()
            if len(emails) == 1 and f"name:{name_key}" in self._in_graph
        ]


def _rows(meetings: Sequence[Meeting], graph_keys: Mapping[str, Sequence[str]]) -> _Rows:
    people = _People([p for meeting in meetings for p in meeting.people()], graph_keys)
    rows = _Rows(absorbed=people.absorbed())

    def person_key(person: Person) -> str:
        key = people.key(person)
        if key == person.key:  # a name resolved to a known email adds no person of its own
            rows.people[key] = {
                "key": key,
                "name": person.name,
                "name_key": person.name_key,
                "email": person.key if person.email else None,
            }
        return key

    for meeting in meetings:
        attended: dict[str, dict[str, Any]] = {}
        spoke_in: list[dict[str, Any]] = []
        for attendance in meeting.attendees:
            key = person_key(attendance.person)
            row = attended.setdefault(key, {"person": key, "organizer": False})
            row["organizer"] = row["organizer"] or attendance.organizer
            if attendance.spoken_seconds is not None:
                spoke_in.append(
                    {
                        "person": key,
                        "seconds": attendance.spoken_seconds,
                        "words": attendance.spoken_words or 0,
                    }
                )
        topics: dict[str, str] = {}
        for label in meeting.topics:
            name = " ".join(label.split())
            topics.setdefault(normalize_name(name), name)
        rows.meetings.append(
            {
                "id": meeting.id,
                "properties": {
                    "title": meeting.title,
                    "completed_at": meeting.completed_at,
                    "started_at": meeting.started_at,
                    "duration_seconds": meeting.duration_seconds,
                    "platform": meeting.platform,
                    "language": meeting.language,
                    "summary": meeting.summary,
                },
                "attended": list(attended.values()),
                "spoke_in": spoke_in,
                "topics": [
                    {"name": name, "label": label} for name, label in topics.items() if name
                ],
                "decisions": [
                    _statement_row(statement, position)
                    for position, statement in enumerate(meeting.decisions)
                ],
                "questions": [
                    _statement_row(statement, position)
                    for position, statement in enumerate(meeting.questions)
                ],
                "action_items": [
                    {
                        "id": item.id,
                        "text": item.text,
                        "due": item.due,
                        "quote": item.quote,
                        "start": item.start,
                        "position": position,
                        "owner": person_key(item.owner) if item.owner is not None else None,
                        "due_date": item.due_date,
                        "state": item.state,
                        "closed_in": item.closed_in,
                        "closed_at": item.closed_at,
                    }
                    for position, item in enumerate(meeting.action_items)
                ],
                # Both ways: whichever of the two meetings is written last links them.
                "carried_over": [
                    {"from": earlier, "to": later}
                    for item in meeting.action_items
                    for earlier, later in (
                        (item.carried_over_from, item.id),
                        (item.id, item.carried_over_to),
                    )
                    if earlier is not None and later is not None
                ],
            }
        )
    return rows


def _statement_row(statement: Statement, position: int) -> dict[str, Any]:
    return {
        "id": statement.id,
        "text": statement.text,
        "quote": statement.quote,
        "start": statement.start,
        "position": position,
    }


def _write_meetings(tx: ManagedTransaction, meetings: Sequence[Meeting], replace: bool) -> None:
    orphans = _prune(tx, [meeting.id for meeting in meetings]) if replace else None
    name_keys = sorted({person.name_key for meeting in meetings for person in meeting.people()})
    graph_keys = {
        record["name_key"]: record["keys"]
        for record in tx.run(cypher.PEOPLE_BY_NAME, name_keys=name_keys)
    }
    for statement, rows in _rows(meetings, graph_keys).statements():
        if rows:
            tx.run(statement, rows=rows).consume()
    if orphans is not None:
        _delete_orphans(tx, *orphans)


def _delete_meetings(tx: ManagedTransaction, ids: Sequence[str]) -> None:
    orphans = _prune(tx, ids)
    tx.run(cypher.DELETE_MEETINGS, ids=ids).consume()
    _delete_orphans(tx, *orphans)


def _prune(tx: ManagedTransaction, ids: Sequence[str]) -> tuple[set[str], set[str]]:
    """Remove what the meetings `ids` put in the graph (their items and links); the keys
    of the people and topics that may have nothing left linking to them."""
    people = {key for record in tx.run(cypher.PRUNE_ITEMS, ids=ids) for key in record["owners"]}
    topics = {record["name"] for record in tx.run(cypher.PRUNE_TOPICS, ids=ids)}
    people.update(record["key"] for record in tx.run(cypher.PRUNE_PEOPLE, ids=ids))
    return people, topics


def _delete_orphans(tx: ManagedTransaction, people: set[str], topics: set[str]) -> None:
    # Run last: a person or topic that a rewritten meeting links to again is no orphan.
    if people:
        tx.run(cypher.DELETE_ORPHAN_PEOPLE, keys=sorted(people)).consume()
    if topics:
        tx.run(cypher.DELETE_ORPHAN_TOPICS, keys=sorted(topics)).consume()


class GraphWriter:
    """The graph's one writer (and reader, for the saved queries).

    Writes run in managed write transactions, so the driver retries what is transient;
    every meeting of a batch is written in one transaction, all of it or none.
    """

    def __init__(self, driver: Driver, *, database: str | None = None) -> None:
        self._driver = driver
        self._database = database
        self._schema_ready = False

    @classmethod
    def connect(
        cls,
        uri: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> Self:
        _check_address(uri)
        auth = (user or "neo4j", password) if password else None
        with _neo4j_errors():
            driver = GraphDatabase.driver(
                uri,
                auth=auth,
                max_transaction_retry_time=retry_seconds,
                connection_timeout=min(retry_seconds, 30.0),
            )
        return cls(driver, database=database)

    def close(self) -> None:
        self._driver.close()

    def check_reachable(self) -> None:
        """Raises GraphUnavailableError at once if Neo4j cannot be reached: one connection
        attempt (a round trip on a pooled one), none of a transaction's retries."""
        with _neo4j_errors():
            self._driver.verify_connectivity()

    def ensure_schema(self) -> None:
        """The unique constraints and the name index, once per writer (IF NOT EXISTS)."""
        if self._schema_ready:
            return
        with _neo4j_errors():
            for statement in cypher.SCHEMA:
                self._driver.execute_query(statement, database_=self._database)
        self._schema_ready = True

    def write(self, meetings: Sequence[Meeting], *, replace: bool = True) -> None:
        """Create or update `meetings`, in one transaction.

        `replace` first removes what each meeting put in the graph before (its decisions,
        action items, questions and links), so a re-synthesized meeting leaves nothing
        stale; a rebuild into an empty graph skips that.
        """
        if not meetings:
            return
        self.ensure_schema()
        with _neo4j_errors(), self._session() as session:
            session.execute_write(_write_meetings, meetings, replace)

    def delete(self, meeting_ids: Sequence[str]) -> None:
        """Remove meetings and everything only they linked to."""
        if not meeting_ids:
            return
        self.ensure_schema()
        with _neo4j_errors(), self._session() as session:
            session.execute_write(_delete_meetings, meeting_ids)

    def wipe(self) -> None:
        """Delete every node minutes writes (and only those)."""
        with _neo4j_errors(), self._session() as session:
            # CALL ... IN TRANSACTIONS commits as it goes: auto-commit queries, not managed.
            for statement in cypher.WIPE:
                session.run(statement).consume()

    def read(
        self, query: LiteralString, parameters: Mapping[str, Any]
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Run a read-only query (routed to a reader in a cluster): its columns, its rows."""
        with _neo4j_errors():
            records, _, columns = self._driver.execute_query(
                Query(query), dict(parameters), database_=self._database, routing_="r"
            )
        return list(columns), [record.data() for record in records]

    def _session(self) -> Any:
        return self._driver.session(database=self._database)
