"""The people of a conversation."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from repositories.base import ConversationPartRepository
from repositories.models import Participant


class ParticipantRepository(ConversationPartRepository[Participant]):
    model = Participant
    order_by = "name"

    def get_by_name(self, conversation_id: uuid.UUID, name: str) -> Participant | None:
        statement = select(Participant).where(
            Participant.conversation_id == conversation_id, Participant.name == name
        )
        return self.session.scalars(statement).one_or_none()
