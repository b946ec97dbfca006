"""The notes of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Integer, Table, delete, insert, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from repositories.base import Repository
from repositories.models import EmailStatus, Synthesis


class SynthesisRepository(Repository[Synthesis]):
    model = Synthesis

    def get_by_conversation(self, conversation_id: uuid.UUID) -> Synthesis | None:
        statement = select(Synthesis).where(Synthesis.conversation_id == conversation_id)
        return self.session.scalars(statement).one_or_none()

    def save_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> Synthesis:
        """The conversation's notes, replaced if it has some already (a rerun of synthesis)."""
        existing = self.get_by_conversation(conversation_id)
        if existing is None:
            return self.create(conversation_id=conversation_id, **values)
        return self.update(existing, **values)

    def add_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> None:
        """Store a conversation's first notes: one INSERT, without the ORM's flush (the
        pipeline's hot path, which needs no Synthesis object back)."""
        self.execute(_INSERT, {"conversation_id": conversation_id, **values})

    def delete_for_conversation(self, conversation_id: uuid.UUID) -> None:
        """Drop notes a new transcript has made stale."""
        self.session.execute(
            delete(Synthesis)
            .where(Synthesis.conversation_id == conversation_id)
            .execution_options(synchronize_session=False)
        )

    def list_with_decisions(self, *, limit: int = 100) -> Sequence[Synthesis]:
        return self._list_with_items(Synthesis.key_decisions, limit=limit)

    def list_with_action_items(self, *, limit: int = 100) -> Sequence[Synthesis]:
        return self._list_with_items(Synthesis.action_items, limit=limit)

    def list_pending_email(self, *, limit: int = 100) -> Sequence[Synthesis]:
        statement = (
            select(Synthesis)
            .where(Synthesis.email_status == EmailStatus.PENDING)
            .order_by(Synthesis.created_at)
            .limit(limit)
        )
        return self.session.scalars(statement).all()

    def search_summaries(self, text: str, *, limit: int = 50) -> Sequence[Synthesis]:
        statement = (
            select(Synthesis)
            .where(Synthesis.summary.icontains(text, autoescape=True))
            .order_by(Synthesis.created_at.desc())
            .limit(limit)
        )
        return self.session.scalars(statement).all()

    def _list_with_items(self, column: Any, *, limit: int) -> Sequence[Synthesis]:
        statement = (
            select(Synthesis)
            .where(json_array_length(column) > 0)
            .order_by(Synthesis.created_at.desc())
            .limit(limit)
        )
        return self.session.scalars(statement).all()


# Built once; the columns a call leaves out get their defaults (id, created_at, ...).
_INSERT = insert(cast(Table, Synthesis.__table__))


class json_array_length(GenericFunction[int]):
    """How many items a JSON array column holds, on SQLite and on PostgreSQL's JSONB."""

    type = Integer()
    inherit_cache = True


@compiles(json_array_length, "postgresql")
def _jsonb_array_length(element: json_array_length, compiler: SQLCompiler, **kw: Any) -> str:
    return f"jsonb_array_length({compiler.process(element.clauses, **kw)})"
