"""The people of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import insert, select, update

from repositories.base import Repository
from repositories.models import Participant


class ParticipantRepository(Repository[Participant]):
    model = Participant

    def names(self, conversation_id: uuid.UUID) -> list[str]:
        statement = (
            select(Participant.name)
            .where(Participant.conversation_id == conversation_id)
            .order_by(Participant.name)
        )
        return list(self.session.scalars(statement))

    def record_speaking(
        self, conversation_id: uuid.UUID, spoken: Mapping[str, tuple[float, int]]
    ) -> None:
        """Set each participant's speaking time and words from `spoken`, keyed by the
        case-folded name; those who did not speak get none."""
        statement = select(Participant.id, Participant.name).where(
            Participant.conversation_id == conversation_id
        )
        rows = []
        for participant_id, name in self.session.execute(statement):
            seconds, words = spoken.get(name.casefold(), (None, None))
            rows.append({"id": participant_id, "spoken_seconds": seconds, "word_count": words})
        if rows:
            # One bulk UPDATE by primary key (an executemany), not a flush per participant.
            self.session.execute(update(Participant), rows)

    def add_names(self, conversation_id: uuid.UUID, names: Sequence[str]) -> None:
        """Add people known only by name (speakers a transcript named), in one INSERT."""
        if names:
            self.session.execute(
                insert(Participant),
                [
                    {"id": uuid.uuid4(), "conversation_id": conversation_id, "name": name}
                    for name in names
                ],
            )
