"""The local Neo4j `make test` starts (graphdb/): reachable over Bolt, and writable."""

from __future__ import annotations

import uuid

from neo4j import Driver


class TestLocalNeo4j:
    def test_it_is_neo4j_community_5_26(self, neo4j_driver: Driver) -> None:
        records, _, _ = neo4j_driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN name, versions[0] AS version, edition"
        )
        [component] = records
        assert component["name"] == "Neo4j Kernel"
        assert component["version"].startswith("5.26.")
        assert component["edition"] == "community"

    def test_a_parameterised_write_is_read_back(self, neo4j_driver: Driver) -> None:
        key = f"probe-{uuid.uuid4()}"
        try:
            neo4j_driver.execute_query("MERGE (:ServiceProbe {key: $key})", key=key)
            neo4j_driver.execute_query("MERGE (:ServiceProbe {key: $key})", key=key)
            records, _, _ = neo4j_driver.execute_query(
                "MATCH (probe:ServiceProbe {key: $key}) RETURN count(probe) AS found", key=key
            )
            assert records[0]["found"] == 1
        finally:
            neo4j_driver.execute_query(
                "MATCH (probe:ServiceProbe {key: $key}) DELETE probe", key=key
            )
