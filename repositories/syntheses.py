"""The notes of a conversation."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select

from repositories.base import Repository
from repositories.models import Synthesis


class SynthesisRepository(Repository[Synthesis]):
    model = Synthesis

    def get_by_conversation(self, conversation_id: uuid.UUID) -> Synthesis | None:
        statement = select(Synthesis).where(Synthesis.conversation_id == conversation_id)
        return self.session.scalars(statement).one_or_none()

    def delete_for_conversation(self, conversation_id: uuid.UUID) -> None:
        """Drop notes a new transcript has made stale."""
        self.session.execute(
            delete(Synthesis)
            .where(Synthesis.conversation_id == conversation_id)
            .execution_options(synchronize_session=False)
        )
