"""Every Cypher statement the graph writer runs: values always arrive as parameters.

Batched: each statement takes `$rows` (or `$ids`, `$keys`) and UNWINDs it, so one round
trip writes a whole batch of meetings, never one statement per node.
"""

from __future__ import annotations

# Created on first connection; IF NOT EXISTS makes every later run a no-op.
SCHEMA = (
    "CREATE CONSTRAINT meeting_id IF NOT EXISTS FOR (n:Meeting) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT person_key IF NOT EXISTS FOR (n:Person) REQUIRE n.key IS UNIQUE",
    "CREATE CONSTRAINT topic_name IF NOT EXISTS FOR (n:Topic) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT decision_id IF NOT EXISTS FOR (n:Decision) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT action_item_id IF NOT EXISTS FOR (n:ActionItem) REQUIRE n.id IS UNIQUE",
    "CREATE CONSTRAINT question_id IF NOT EXISTS FOR (n:Question) REQUIRE n.id IS UNIQUE",
    # Person resolution looks people up by normalized name.
    "CREATE INDEX person_name_key IF NOT EXISTS FOR (n:Person) ON (n.name_key)",
)

# The people already in the graph under each normalized name, to resolve name-only people.
PEOPLE_BY_NAME = """
UNWIND $name_keys AS name_key
MATCH (person:Person {name_key: name_key})
RETURN name_key, collect(person.key) AS keys
"""

# Replacing a meeting: its own items go, its links to people and topics go (the people and
# topics stay, unless nothing links to them any more: see DELETE_ORPHAN_*).
PRUNE_ITEMS = """
UNWIND $ids AS id
MATCH (:Meeting {id: id})-[:DECIDED|HAS_ACTION_ITEM|RAISED]->(item)
OPTIONAL MATCH (item)-[:ASSIGNED_TO]->(owner:Person)
WITH item, collect(owner.key) AS owners
DETACH DELETE item
RETURN owners
"""
PRUNE_TOPICS = """
UNWIND $ids AS id
MATCH (:Meeting {id: id})-[link:DISCUSSED]->(topic:Topic)
DELETE link
RETURN DISTINCT topic.name AS name
"""
PRUNE_PEOPLE = """
UNWIND $ids AS id
MATCH (person:Person)-[link:ATTENDED|SPOKE_IN]->(:Meeting {id: id})
DELETE link
RETURN DISTINCT person.key AS key
"""
DELETE_MEETINGS = """
UNWIND $ids AS id
MATCH (meeting:Meeting {id: id})
DETACH DELETE meeting
"""
DELETE_ORPHAN_PEOPLE = """
UNWIND $keys AS key
MATCH (person:Person {key: key})
WHERE NOT (person)--()
DELETE person
"""
DELETE_ORPHAN_TOPICS = """
UNWIND $keys AS key
MATCH (topic:Topic {name: key})
WHERE NOT (topic)--()
DELETE topic
"""

MERGE_PEOPLE = """
UNWIND $rows AS row
MERGE (person:Person {key: row.key})
SET person.name = row.name, person.name_key = row.name_key, person.email = row.email
"""
# A person first known by name only, now also by email: one person, under the email key.
# Where both attended a meeting, what the email person's link says is kept.
ABSORB_PEOPLE = """
UNWIND $rows AS row
MATCH (old:Person {key: row.name_only})
MATCH (known:Person {key: row.email})
CALL (old, known) {
  MATCH (old)-[link:ATTENDED]->(meeting:Meeting)
  MERGE (known)-[moved:ATTENDED]->(meeting)
  ON CREATE SET moved += properties(link)
}
CALL (old, known) {
  MATCH (old)-[link:SPOKE_IN]->(meeting:Meeting)
  MERGE (known)-[moved:SPOKE_IN]->(meeting)
  ON CREATE SET moved += properties(link)
}
CALL (old, known) {
  MATCH (item:ActionItem)-[:ASSIGNED_TO]->(old)
  MERGE (item)-[:ASSIGNED_TO]->(known)
}
DETACH DELETE old
"""
# One row per meeting, carrying its links and items: the meeting is looked up once, not
# once per link, and its id crosses the wire once. People are merged (and absorbed) first.
MERGE_MEETINGS = """
UNWIND $rows AS row
MERGE (meeting:Meeting {id: row.id})
SET meeting += row.properties
WITH meeting, row
CALL (meeting, row) {
  UNWIND row.attended AS attendance
  MATCH (person:Person {key: attendance.person})
  MERGE (person)-[attended:ATTENDED]->(meeting)
  SET attended.organizer = attendance.organizer
}
CALL (meeting, row) {
  UNWIND row.spoke_in AS spoken
  MATCH (person:Person {key: spoken.person})
  MERGE (person)-[spoke:SPOKE_IN]->(meeting)
  SET spoke.seconds = spoken.seconds, spoke.words = spoken.words
}
CALL (meeting, row) {
  UNWIND row.topics AS discussed
  MERGE (topic:Topic {name: discussed.name})
  ON CREATE SET topic.label = discussed.label
  MERGE (meeting)-[:DISCUSSED]->(topic)
}
CALL (meeting, row) {
  UNWIND row.decisions AS decided
  MERGE (decision:Decision {id: decided.id})
  SET decision.text = decided.text, decision.quote = decided.quote,
      decision.start = decided.start, decision.position = decided.position
  MERGE (meeting)-[:DECIDED]->(decision)
}
CALL (meeting, row) {
  UNWIND row.questions AS raised
  MERGE (question:Question {id: raised.id})
  SET question.text = raised.text, question.quote = raised.quote,
      question.start = raised.start, question.position = raised.position
  MERGE (meeting)-[:RAISED]->(question)
}
CALL (meeting, row) {
  UNWIND row.action_items AS task
  MERGE (item:ActionItem {id: task.id})
  SET item.text = task.text, item.due = task.due, item.quote = task.quote,
      item.start = task.start, item.position = task.position,
      item.due_date = task.due_date, item.state = task.state, item.closed_in = task.closed_in,
      item.closed_at = task.closed_at
  MERGE (meeting)-[:HAS_ACTION_ITEM]->(item)
  WITH item, task
  WHERE task.owner IS NOT NULL
  MATCH (owner:Person {key: task.owner})
  MERGE (item)-[:ASSIGNED_TO]->(owner)
}
CALL (row) {
  UNWIND row.carried_over AS link
  MATCH (earlier:ActionItem {id: link.from})
  MATCH (later:ActionItem {id: link.to})
  MERGE (earlier)-[:CARRIED_OVER_TO]->(later)
}
"""

# Ours only: other applications' nodes in the same database are left alone. In batches of
# their own transactions (CALL ... IN TRANSACTIONS), so a large graph never needs one huge
# transaction's memory: first the relationships our nodes start (every one minutes writes),
# then the nodes, which by then have few relationships left to detach. Deleting nodes with
# their relationships in one go put a topic's or a person's thousands of links, and a
# batch of meetings' dozens each, into a single transaction.
WIPE = (
    """
MATCH (node)-[link]->()
WHERE node:Meeting OR node:Person OR node:Topic OR node:Decision OR node:ActionItem
   OR node:Question
CALL (link) { DELETE link } IN TRANSACTIONS OF 10000 ROWS
""",
    """
MATCH (node)
WHERE node:Meeting OR node:Person OR node:Topic OR node:Decision OR node:ActionItem
   OR node:Question
CALL (node) { DETACH DELETE node } IN TRANSACTIONS OF 10000 ROWS
""",
)
