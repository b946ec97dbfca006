"""The analysts' saved queries: named, parameterised Cypher over the meetings graph."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, LiteralString

from neo4j.time import Date, DateTime, Duration, Time

from integrations.people import normalize_email, normalize_name


class QueryParameterError(ValueError):
    """A saved query was given a parameter it does not take, or a bad or missing value."""


class ParameterKind(enum.StrEnum):
    # A person is looked up by email or by name, so both are normalized like the graph's keys.
    PERSON = "person"
    TOPIC = "topic"
    MEETING = "meeting"
    INTEGER = "integer"


@dataclass(frozen=True, slots=True)
class QueryParameter:
    name: str
    kind: ParameterKind
    description: str
    default: int | str | None = None
    required: bool = False

    def parse(self, raw: str) -> int | str:
        value = raw.strip()
        if self.kind is ParameterKind.INTEGER:
            try:
                number = int(value)
            except ValueError:
                raise QueryParameterError(
                    f"{self.name} must be a whole number, not {raw!r}"
                ) from None
            if number < 1:
                raise QueryParameterError(f"{self.name} must be at least 1")
            return number
        if not value:
            raise QueryParameterError(f"{self.name} must not be empty")
        if self.kind is ParameterKind.PERSON:
            email = normalize_email(value) if "@" in value else None
            return email or normalize_name(value)
        if self.kind is ParameterKind.TOPIC:
            return normalize_name(value)
        return value


@dataclass(frozen=True, slots=True)
class SavedQuery:
    name: str
    description: str
    cypher: LiteralString
    parameters: tuple[QueryParameter, ...] = field(default=())

    def bind(self, given: Mapping[str, str]) -> dict[str, Any]:
        """The query's parameters from `given` (as typed on a command line), checked."""
        known = {parameter.name: parameter for parameter in self.parameters}
        unknown = sorted(set(given) - set(known))
        if unknown:
            takes = ", ".join(known) or "no parameters"
            raise QueryParameterError(f"{self.name} takes {takes}; not {', '.join(unknown)}")
        bound: dict[str, Any] = {}
        for name, parameter in known.items():
            if name in given:
                bound[name] = parameter.parse(given[name])
            elif parameter.required:
                raise QueryParameterError(f"{self.name} needs --param {name}=<{parameter.kind}>")
            else:
                bound[name] = parameter.default
        return bound


_PERSON = QueryParameter(
    "person",
    ParameterKind.PERSON,
    "an email, or a name (case and accents do not matter)",
    required=True,
)
_LIMIT = QueryParameter("limit", ParameterKind.INTEGER, "at most this many rows", default=20)

SAVED_QUERIES: tuple[SavedQuery, ...] = (
    SavedQuery(
        name="open-action-items",
        description="Action items and who owes them, newest meeting first (one person, or all).",
        cypher="""
MATCH (meeting:Meeting)-[:HAS_ACTION_ITEM]->(item:ActionItem)-[:ASSIGNED_TO]->(person:Person)
WHERE $person IS NULL OR person.key = $person OR person.name_key = $person
RETURN person.name AS person, item.text AS action_item, item.due AS due,
       meeting.title AS meeting, meeting.completed_at AS completed_at
ORDER BY person, completed_at DESC, item.position
""",
        parameters=(
            QueryParameter(
                "person", ParameterKind.PERSON, "only this person's (an email or a name)"
            ),
        ),
    ),
    SavedQuery(
        name="open-items-by-age",
        description="Each person's open action items (a repeated one once), oldest first: "
        "days since first raised, and how often carried over.",
        cypher="""
MATCH (meeting:Meeting)-[:HAS_ACTION_ITEM]->(item:ActionItem)-[:ASSIGNED_TO]->(person:Person)
WHERE coalesce(item.state, 'open') = 'open' AND NOT (item)-[:CARRIED_OVER_TO]->(:ActionItem)
  AND ($person IS NULL OR person.key = $person OR person.name_key = $person)
OPTIONAL MATCH chain = (first:ActionItem)-[:CARRIED_OVER_TO*1..]->(item)
WHERE NOT (:ActionItem)-[:CARRIED_OVER_TO]->(first)
WITH person, item, meeting, coalesce(first, item) AS origin, coalesce(length(chain), 0) AS carried
MATCH (raised:Meeting)-[:HAS_ACTION_ITEM]->(origin)
WITH person, item, meeting, carried, coalesce(raised.started_at, raised.completed_at) AS since
RETURN person.name AS person, item.text AS action_item, coalesce(item.due_date, item.due) AS due,
       meeting.title AS meeting, date(since) AS first_raised,
       duration.inDays(since, datetime()).days AS age_days, carried AS times_carried_over
ORDER BY person, age_days DESC, action_item
""",
        parameters=(
            QueryParameter(
                "person", ParameterKind.PERSON, "only this person's (an email or a name)"
            ),
        ),
    ),
    SavedQuery(
        name="meetings-attended",
        description="The meetings a person attended, newest first, with how long they spoke.",
        cypher="""
MATCH (person:Person)-[attended:ATTENDED]->(meeting:Meeting)
WHERE person.key = $person OR person.name_key = $person
OPTIONAL MATCH (person)-[spoke:SPOKE_IN]->(meeting)
RETURN meeting.id AS meeting_id, meeting.title AS meeting, meeting.completed_at AS completed_at,
       attended.organizer AS organizer, coalesce(spoke.seconds, 0.0) AS spoke_seconds
ORDER BY completed_at DESC, meeting_id
""",
        parameters=(_PERSON,),
    ),
    SavedQuery(
        name="recurring-topics",
        description="Topics discussed in several meetings, most often first.",
        cypher="""
MATCH (topic:Topic)<-[:DISCUSSED]-(meeting:Meeting)
WITH topic, count(meeting) AS meetings,
     min(meeting.completed_at) AS first_discussed, max(meeting.completed_at) AS last_discussed
WHERE meetings >= $min_meetings
RETURN topic.name AS topic, meetings, first_discussed, last_discussed
ORDER BY meetings DESC, topic
LIMIT $limit
""",
        parameters=(
            QueryParameter(
                "min_meetings", ParameterKind.INTEGER, "discussed in at least this many", default=2
            ),
            _LIMIT,
        ),
    ),
    SavedQuery(
        name="decisions-about",
        description="Decisions taken in the meetings that discussed a topic, newest first.",
        cypher="""
MATCH (:Topic {name: $topic})<-[:DISCUSSED]-(discussing:Meeting)-[:DECIDED]->(decided:Decision)
RETURN discussing.title AS meeting, discussing.completed_at AS completed_at,
       decided.text AS decision
ORDER BY completed_at DESC, discussing.id, decided.position
""",
        parameters=(
            QueryParameter(
                "topic", ParameterKind.TOPIC, "the topic, as the notes name it", required=True
            ),
        ),
    ),
    SavedQuery(
        name="people-who-meet-most",
        description="Pairs of people by how many meetings they attended together.",
        cypher="""
MATCH (one:Person)-[:ATTENDED]->(meeting:Meeting)<-[:ATTENDED]-(other:Person)
WHERE one.key < other.key
WITH one, other, count(meeting) AS meetings_together
RETURN one.name AS person, other.name AS other_person, meetings_together
ORDER BY meetings_together DESC, person, other_person
LIMIT $limit
""",
        parameters=(_LIMIT,),
    ),
    SavedQuery(
        name="meeting-neighbourhood",
        description="Everything one meeting links to: people, topics, decisions, action items, "
        "questions.",
        cypher="""
MATCH (meeting:Meeting {id: $meeting})-[link]-(neighbour)
OPTIONAL MATCH (neighbour:ActionItem)-[:ASSIGNED_TO]->(owner:Person)
RETURN type(link) AS relationship, labels(neighbour)[0] AS node,
       coalesce(neighbour.name, neighbour.text) AS value, owner.name AS assigned_to,
       properties(link) AS details
ORDER BY relationship, coalesce(neighbour.position, 0), value
""",
        parameters=(
            QueryParameter("meeting", ParameterKind.MEETING, "the conversation id", required=True),
        ),
    ),
)

SAVED_QUERIES_BY_NAME = {query.name: query for query in SAVED_QUERIES}


def plain(value: Any) -> Any:
    """A query result value as JSON can carry it (Neo4j temporal types become ISO text)."""
    if isinstance(value, DateTime | Date | Time):
        return value.iso_format()
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value
