"""The graph outbox: events written with the data they describe, pushed to Neo4j later."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from repositories.base import ConversationPartRepository
from repositories.models import GraphOutboxEvent


class GraphOutboxRepository(ConversationPartRepository[GraphOutboxEvent]):
    model = GraphOutboxEvent
    order_by = "created_at"

    def add_event(
        self, conversation_id: uuid.UUID, event_type: str, payload: dict[str, Any]
    ) -> GraphOutboxEvent:
        return self.create(conversation_id=conversation_id, event_type=event_type, payload=payload)

    def list_unprocessed(self, *, limit: int = 100) -> Sequence[GraphOutboxEvent]:
        statement = (
            select(GraphOutboxEvent)
            .where(GraphOutboxEvent.processed_at.is_(None))
            .order_by(GraphOutboxEvent.created_at)
            .limit(limit)
        )
        return self.session.scalars(statement).all()
