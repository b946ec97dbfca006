"""The graph outbox: events written with the data they describe, pushed to Neo4j later."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select

from repositories.base import Repository
from repositories.models import GraphOutboxEvent

# The key of the PostgreSQL advisory lock one graph sync at a time holds ("minutes:" in
# ASCII, then 1): any number no other advisory lock of this database uses.
GRAPH_SYNC_LOCK_KEY = 0x6D696E7574657301
# Built once (completion's one-statement form selects into it too); the columns a call
# leaves out get their defaults.
EVENT_INSERT = insert(cast(Table, GraphOutboxEvent.__table__))


class GraphOutboxRepository(Repository[GraphOutboxEvent]):
    model = GraphOutboxEvent

    def add_event(
        self, conversation_id: uuid.UUID | None, event_type: str, payload: dict[str, Any]
    ) -> uuid.UUID:
        """The new event's id. One INSERT, without the ORM's flush (a completion on SQLite
        writes one; PostgreSQL's completion selects `EVENT_INSERT` in its own statement)."""
        id = uuid.uuid4()
        self.execute(
            EVENT_INSERT,
            {
                "id": id,
                "conversation_id": conversation_id,
                "event_type": event_type,
                "payload": payload,
            },
        )
        return id

    def lock_for_sync(self, *, wait: bool) -> bool:
        """Takes the graph sync's lock until this transaction ends; False when another
        transaction holds it and `wait` is not asked for.

        One sync at a time talks to Neo4j, so while Neo4j is slow or away a burst of
        completions does not turn into a crowd of syncs each holding a worker.
        """
        return self.advisory_xact_lock(GRAPH_SYNC_LOCK_KEY, wait=wait)

    def claim_pending(self, *, limit: int) -> Sequence[GraphOutboxEvent]:
        """Up to `limit` unprocessed events, locked until this transaction ends.

        SKIP LOCKED: events another syncer holds are passed over, so several syncers share
        the outbox and none pushes what another is pushing. Events that failed before come
        after the rest, so one that keeps failing does not hold up the others.
        """
        statement = (
            select(GraphOutboxEvent)
            .where(GraphOutboxEvent.processed_at.is_(None))
            .order_by(GraphOutboxEvent.attempts, GraphOutboxEvent.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return self.session.scalars(statement).all()

    def pending_ids(self) -> list[uuid.UUID]:
        statement = select(GraphOutboxEvent.id).where(GraphOutboxEvent.processed_at.is_(None))
        return list(self.session.scalars(statement))

    def count_pending(self) -> int:
        return self.count(GraphOutboxEvent.processed_at.is_(None))

    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait to be pushed, and when the oldest of them was written: one
        statement, read from the partial index of unprocessed events."""
        statement = select(func.count(), func.min(GraphOutboxEvent.created_at)).where(
            GraphOutboxEvent.processed_at.is_(None)
        )
        count, oldest = self.session.execute(statement).one()
        return count, oldest

    def mark_processed(self, ids: Sequence[uuid.UUID], *, at: datetime) -> int:
        return self.update_where(
            GraphOutboxEvent.id.in_(ids),
            GraphOutboxEvent.processed_at.is_(None),
            processed_at=at,
            last_error=None,
        )

    def record_failure(self, ids: Sequence[uuid.UUID], *, error: str) -> int:
        """Counts a failed push of these events and keeps its error; they stay pending."""
        return self.update_where(
            GraphOutboxEvent.id.in_(ids),
            attempts=GraphOutboxEvent.attempts + 1,
            last_error=error,
        )
