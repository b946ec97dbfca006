"""Test fixtures: a real PostgreSQL database built by the migrations, one per test run.

Every test runs inside an outer transaction that is rolled back afterwards; the code under
test commits freely into savepoints (join_transaction_mode="create_savepoint").
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from neo4j import Driver, GraphDatabase
from neo4j.exceptions import ServiceUnavailable
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import sessionmaker

from integrations.graph.writer import GraphWriter
from pipeline import schema
from repositories.database import UnitOfWork, create_database_engine
from tests.audio import meeting_series
from tests.corpus import CORPUS, script
from tests.llm_server import LlmServer, LlmServerError, running_llm_server

# The server `make test` starts; CI has it. A missing server fails the run, never skips it.
ADMIN_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://minutes:minutes@127.0.0.1:5432/minutes"
)
# The Neo4j `make test` starts (scripts/services.sh), one for the whole run: tests clear
# minutes' nodes before they write, they never restart it.
NEO4J_URI = os.environ.get("TEST_NEO4J_URI", "bolt://127.0.0.1:7687")


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "scripted").is_dir():
        pytest.fail(f"the shared test corpus is missing: expected it at {CORPUS}")
    return CORPUS


# About 27 minutes, long enough to be cut into chunks: the two scripted meetings (voices
# whisper hears well, so two transcripts of it differ by whisper's errors, not its noise),
# one after another, over again.
LONG_MEETING = ["launch-planning", "incident-review"] * 5 + ["launch-planning"]


@pytest.fixture(scope="session")
def long_meeting(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The long recording (WAV), made once per run, in a folder of its own."""
    meetings = [corpus / "scripted" / f"{name}.wav" for name in LONG_MEETING]
    folder = tmp_path_factory.mktemp("long-meeting")
    return meeting_series(folder / "long-meeting.wav", meetings)


@pytest.fixture(scope="session")
def long_meeting_script(corpus: Path) -> str:
    """What is said in `long_meeting`."""
    return " ".join(script(corpus / "scripted" / f"{name}.wav") for name in LONG_MEETING)


def _create_database(admin_url: str, name: str) -> str:
    """A new database on the test server, quick to commit to: its own setting only, never
    the server's (a developer's cluster stays as they configured it)."""
    admin = create_database_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # A commit need not wait for the disk: a crash loses a throwaway database's
            # last transactions, never its consistency. fsync and full_page_writes are
            # server-wide, so they stay as the server has them.
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin_url: str, name: str) -> None:
    admin = create_database_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The URL of a maintenance database on the test server, for creating others."""
    return ADMIN_DATABASE_URL


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    """An empty PostgreSQL database for this run, dropped at the end."""
    name = f"minutes_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(postgres_server_url, name)
    yield url
    _drop_database(postgres_server_url, name)


@pytest.fixture(scope="module")
def committed_database(postgres_server_url: str) -> Iterator[tuple[str, Engine]]:
    """A migrated database of this module's own, with an engine on it.

    For code that commits from other threads or processes (workers, servers): nothing is
    rolled back, so it must not be the database the rolled-back tests share.
    """
    name = f"minutes_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(postgres_server_url, name)
    engine = create_database_engine(url)
    schema.upgrade(engine)
    yield url, engine
    engine.dispose()
    _drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A PostgreSQL database migrated to head by Alembic (never create_all)."""
    name = f"minutes_test_{uuid.uuid4().hex[:12]}"
    url = _create_database(postgres_server_url, name)
    engine = create_database_engine(url)
    schema.upgrade(engine)
    engine.dispose()
    yield url
    _drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_database_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def uow(connection: Connection) -> UnitOfWork:
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return UnitOfWork(factory)


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    driver = GraphDatabase.driver(NEO4J_URI)
    try:
        driver.verify_connectivity()
    except ServiceUnavailable as error:
        pytest.fail(f"the test Neo4j is not running at {NEO4J_URI}: {error}")
    finally:
        driver.close()
    return NEO4J_URI


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_uri: str) -> Iterator[Driver]:
    """A driver of the tests' own, to look at what the code under test wrote."""
    driver = GraphDatabase.driver(neo4j_uri)
    yield driver
    driver.close()


@pytest.fixture
def graph_writer(neo4j_uri: str) -> Iterator[GraphWriter]:
    """A writer on an empty graph: minutes' nodes wiped before the test."""
    writer = GraphWriter.connect(neo4j_uri)
    writer.wipe()
    yield writer
    writer.close()


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LlmServer]:
    """llama.cpp's OpenAI-compatible server with SmolLM2-135M-Instruct, on a free loopback
    port for the whole run. One that cannot start fails the tests that need it."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(running_llm_server())
        except LlmServerError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield server
