"""Alembic's entry point: the URL comes from our settings, the target from our models."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from logging.config import fileConfig
from typing import Any

from alembic import context
from filelock import FileLock
from sqlalchemy import Connection, text

from pipeline.config import get_settings
from repositories.database import create_database_engine
from repositories.models import Base
from repositories.search import SQLITE_SEARCH_TABLES

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Migrations wait at most this long for a lock, so a busy table fails the deploy instead of
# queueing every query behind the ALTER.
LOCK_TIMEOUT = "4s"
# Also how long a second migrator waits for the first to finish.
STATEMENT_TIMEOUT_S = 60
# The advisory lock every migrator of a database takes ("minutes" in ASCII); advisory
# locks are per database, so migrators of other databases never wait on each other.
MIGRATION_LOCK_KEY = 0x6D696E75746573


# Search is built per dialect (the search migration): PostgreSQL's generated vectors and
# GIN indexes are in the models; SQLite's FTS5 tables (and their shadow tables) are not,
# and it has no vectors.
POSTGRESQL_SEARCH_OBJECTS = {
    "search_vector",
    "ix_transcript_segments_search_vector",
    "ix_syntheses_search_vector",
}


def _in_sqlite_schema(name: str | None, type_: str, parent_names: Any) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(SQLITE_SEARCH_TABLES))


def _in_sqlite_models(
    object_: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return name not in POSTGRESQL_SEARCH_OBJECTS


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=sqlite,
        transaction_per_migration=True,
        include_name=_in_sqlite_schema if sqlite else None,
        include_object=_in_sqlite_models if sqlite else None,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url")
        or get_settings().database_url.get_secret_value(),
        target_metadata=Base.metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        if context.get_context().dialect.name == "postgresql":
            # The script an operator runs later keeps the same limits.
            context.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            context.execute(f"SET statement_timeout = '{STATEMENT_TIMEOUT_S}s'")
        context.run_migrations()


def run_migrations_online() -> None:
    # A caller (the test suite, `minutes db upgrade`) may hand us its own connection.
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url.get_secret_value()
    engine = create_database_engine(url)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


def _migrate(connection: Connection) -> None:
    with _one_migrator_at_a_time(connection):
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()


@contextmanager
def _one_migrator_at_a_time(connection: Connection) -> Iterator[None]:
    """Two migrators at once (deploys racing, `minutes process` x N on a new SQLite file)
    would both find the schema old and both create it: the second waits, then finds it
    current."""
    if connection.dialect.name == "postgresql":
        with _postgresql_migration_lock(connection):
            yield
    elif connection.dialect.name == "sqlite" and _sqlite_file(connection) is not None:
        # SQLite has no advisory locks: a lock file beside the database serves instead.
        with FileLock(f"{_sqlite_file(connection)}.migrate.lock", timeout=STATEMENT_TIMEOUT_S):
            yield
    else:
        yield  # an in-memory SQLite database belongs to its one connection


@contextmanager
def _postgresql_migration_lock(connection: Connection) -> Iterator[None]:
    if connection.in_transaction():
        # The caller's transaction holds every migration and commits them after we return:
        # lock and timeouts last exactly as long as it does.
        _set_timeouts(connection, local=True)
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        yield
        return
    lock_timeout, statement_timeout = connection.execute(
        text("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')")
    ).one()
    # statement_timeout first: it bounds the wait for the lock below. lock_timeout after
    # it, since it would cut that wait short too.
    _set_timeouts(connection, local=False)
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    # Session-level lock and settings outlive this commit, and alembic must start from no
    # transaction, or it would take ours for the caller's and commit nothing.
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()  # whatever a failed migration left open
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.execute(
            text(
                "SELECT set_config('lock_timeout', :lock, false), "
                "set_config('statement_timeout', :statement, false)"
            ),
            {"lock": lock_timeout, "statement": statement_timeout},
        )
        connection.commit()


def _set_timeouts(connection: Connection, *, local: bool) -> None:
    connection.execute(
        text("SELECT set_config('statement_timeout', :statement, :local)"),
        {"statement": f"{STATEMENT_TIMEOUT_S}s", "local": local},
    )
    connection.execute(
        text("SELECT set_config('lock_timeout', :lock, :local)"),
        {"lock": LOCK_TIMEOUT, "local": local},
    )


def _sqlite_file(connection: Connection) -> str | None:
    database = connection.engine.url.database
    return None if not database or database == ":memory:" else database


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
