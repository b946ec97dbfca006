"""The notes of a conversation."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select

from repositories.base import Repository
from repositories.models import Synthesis


class SynthesisRepository(Repository[Synthesis]):
    model = Synthesis

    def get_by_conversation(self, conversation_id: uuid.UUID) -> Synthesis | None:
        statement = select(Synthesis).where(Synthesis.conversation_id == conversation_id)
        return self.session.scalars(statement).one_or_none()

    def add_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> None:
        """Store a conversation's first notes: one INSERT, without the ORM's flush (the
        pipeline's hot path, which needs no Synthesis object back)."""
        self.execute(_INSERT, {"conversation_id": conversation_id, **values})

    def replace_for_conversation(self, conversation_id: uuid.UUID, **values: Any) -> None:
        """Put new notes in place of a conversation's notes. Its email delivery state stays:
        notes already sent are not sent again by themselves."""
        updated = self.update_where(Synthesis.conversation_id == conversation_id, **values)
        if not updated:
            self.add_for_conversation(conversation_id, **values)

    def delete_for_conversation(self, conversation_id: uuid.UUID) -> None:
        """Drop notes a new transcript has made stale."""
        self.session.execute(
            delete(Synthesis)
            .where(Synthesis.conversation_id == conversation_id)
            .execution_options(synchronize_session=False)
        )


# Built once; the columns a call leaves out get their defaults (id, created_at, ...).
_INSERT = insert(cast(Table, Synthesis.__table__))
