"""Provider circuits: which providers failed recently, shared by every worker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from repositories.models import ProviderCircuit, utc_now


class ProviderCircuitRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, provider: str) -> ProviderCircuit | None:
        return self.session.scalars(
            select(ProviderCircuit).where(ProviderCircuit.provider == provider)
        ).one_or_none()

    def open(self, provider: str, *, until: datetime, reason: str) -> None:
        """Skip `provider` until `until`: one upsert, so two workers failing on it at once
        both succeed, the later one's cool-down kept."""
        dialect = self.session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = insert(ProviderCircuit).values(
            provider=provider, open_until=until, reason=reason, updated_at=utc_now()
        )
        self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[ProviderCircuit.provider],
                set_={
                    "open_until": statement.excluded.open_until,
                    "reason": statement.excluded.reason,
                    "updated_at": statement.excluded.updated_at,
                },
            )
        )

    def close(self, provider: str) -> None:
        self.session.execute(delete(ProviderCircuit).where(ProviderCircuit.provider == provider))
