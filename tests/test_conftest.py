"""The suite's own fixtures: test databases must not change the server they live on."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, text

from repositories.database import create_database_engine
from tests.conftest import _create_database, _drop_database

DURABILITY = ("fsync", "full_page_writes", "synchronous_commit")


def _settings(engine: Engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT name, setting, source FROM pg_settings WHERE name = ANY(:names)"),
            {"names": list(DURABILITY)},
        )
        return {name: (setting, source) for name, setting, source in rows}


class TestTestDatabases:
    def test_commits_are_fast_in_the_test_database_only(self, postgres_server_url: str) -> None:
        admin = create_database_engine(postgres_server_url)
        server_before = _settings(admin)
        name = f"minutes_test_{uuid.uuid4().hex[:12]}"
        test_database = create_database_engine(_create_database(postgres_server_url, name))
        try:
            assert _settings(test_database)["synchronous_commit"] == ("off", "database")
            # The server, as seen from any other database, is as it was.
            assert _settings(admin) == server_before
        finally:
            test_database.dispose()
            admin.dispose()
            _drop_database(postgres_server_url, name)
