"""A PostgreSQL database of a benchmark run's own: migrated, and dropped at the end."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import make_url, text

from pipeline import schema
from repositories.database import create_database_engine

ADMIN_DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://minutes:minutes@127.0.0.1:5432/minutes"
)


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a migrated database of this run's own, dropped at the end."""
    name = f"minutes_bench_{uuid.uuid4().hex[:12]}"
    admin = create_database_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
            # As the tests' databases: a commit need not wait for the disk, so the bench
            # measures orchestration, not flushes. Only this database's setting; fsync is
            # server-wide and stays as the server has it.
            connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        url = make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(False)
        try:
            engine = create_database_engine(url)
            schema.upgrade(engine)
            engine.dispose()
            yield url
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
