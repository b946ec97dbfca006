"""The people of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from repositories.base import Repository
from repositories.models import Participant


class ParticipantRepository(Repository[Participant]):
    model = Participant

    def list_for_conversation(self, conversation_id: uuid.UUID) -> Sequence[Participant]:
        statement = (
            select(Participant)
            .where(Participant.conversation_id == conversation_id)
            .order_by(Participant.name)
        )
        return self.session.scalars(statement).all()

    def get_by_name(self, conversation_id: uuid.UUID, name: str) -> Participant | None:
        statement = select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.name == name
        )
        return self.session.scalars(statement).one_or_none()
