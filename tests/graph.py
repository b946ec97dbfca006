"""Looking at what minutes wrote in Neo4j: counts, and a whole-graph snapshot to compare."""

from __future__ import annotations

from collections import Counter
from typing import Any

from neo4j import Driver

LABELS = ("Meeting", "Person", "Topic", "Decision", "ActionItem", "Question")
KEYS = {
    "Meeting": "id",
    "Person": "key",
    "Topic": "name",
    "Decision": "id",
    "ActionItem": "id",
    "Question": "id",
}


def node_counts(driver: Driver) -> Counter[str]:
    records, _, _ = driver.execute_query(
        "MATCH (node) UNWIND labels(node) AS label RETURN label, count(*) AS nodes"
    )
    return Counter({record["label"]: record["nodes"] for record in records})


def relationship_counts(driver: Driver) -> Counter[str]:
    records, _, _ = driver.execute_query(
        "MATCH ()-[link]->() RETURN type(link) AS type, count(*) AS links"
    )
    return Counter({record["type"]: record["links"] for record in records})


def snapshot(driver: Driver) -> dict[str, Any]:
    """Every node of ours by label and key (with its properties), every relationship by
    its ends' keys and its properties: two equal snapshots are the same graph."""
    nodes: dict[str, dict[str, dict[str, Any]]] = {}
    for label, key in KEYS.items():
        records, _, _ = driver.execute_query(
            "MATCH (node) WHERE $label IN labels(node) RETURN node", label=label
        )
        nodes[label] = {record["node"][key]: dict(record["node"]) for record in records}
    records, _, _ = driver.execute_query(
        "MATCH (start)-[link]->(end) "
        "RETURN labels(start)[0] AS start_label, start, type(link) AS type, "
        "properties(link) AS properties, labels(end)[0] AS end_label, end"
    )
    links = sorted(
        (
            record["start_label"],
            record["start"][KEYS[record["start_label"]]],
            record["type"],
            sorted(record["properties"].items()),
            record["end_label"],
            record["end"][KEYS[record["end_label"]]],
        )
        for record in records
    )
    return {"nodes": nodes, "links": links}


def rows(driver: Driver, cypher: str, **parameters: Any) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(cypher, parameters)
    return [record.data() for record in records]
