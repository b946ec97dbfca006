"""The local Neo4j `make test` starts (graphdb/): reachable over Bolt, and writable."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import ServiceUnavailable

# The Neo4j `make test` starts; CI has it. A missing server fails the run, never skips it.
NEO4J_URI = os.environ.get("TEST_NEO4J_URI", "bolt://127.0.0.1:7687")


@pytest.fixture(scope="module")
def driver() -> Iterator[Driver]:
    driver = GraphDatabase.driver(NEO4J_URI)
    try:
        driver.verify_connectivity()
    except ServiceUnavailable as error:
        driver.close()
        pytest.fail(f"the test Neo4j is not running at {NEO4J_URI}: {error}")
    yield driver
    driver.close()


class TestLocalNeo4j:
    def test_it_is_neo4j_community_5_26(self, driver: Driver) -> None:
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition "
            "RETURN name, versions[0] AS version, edition"
        )
        [component] = records
        assert component["name"] == "Neo4j Kernel"
        assert component["version"].startswith("5.26.")
        assert component["edition"] == "community"

    def test_a_parameterised_write_is_read_back(self, driver: Driver) -> None:
        key = f"probe-{uuid.uuid4()}"
        try:
            driver.execute_query("MERGE (:ServiceProbe {key: $key})", key=key)
            driver.execute_query("MERGE (:ServiceProbe {key: $key})", key=key)
            records, _, _ = driver.execute_query(
                "MATCH (probe:ServiceProbe {key: $key}) RETURN count(probe) AS found", key=key
            )
            assert records[0]["found"] == 1
        finally:
            driver.execute_query("MATCH (probe:ServiceProbe {key: $key}) DELETE probe", key=key)
