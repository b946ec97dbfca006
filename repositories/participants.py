"""The people of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import case, insert

from repositories.base import Repository
from repositories.models import Participant


class ParticipantRepository(Repository[Participant]):
    model = Participant

    def record_speaking(
        self, conversation_id: uuid.UUID, spoken: Mapping[str, tuple[float, int]]
    ) -> None:
        """Set the speaking time and words of the participants `spoken` names (by their
        names as stored: the caller tells who a speaker is); the others get none."""
        seconds = {name: value for name, (value, _) in spoken.items()}
        words = {name: value for name, (_, value) in spoken.items()}
        # One UPDATE of the whole conversation's people, by the names the caller has read
        # already: no SELECT of their ids first, no statement per person.
        self.update_where(
            Participant.conversation_id == conversation_id,
            spoken_seconds=case(seconds, value=Participant.name) if seconds else None,
            word_count=case(words, value=Participant.name) if words else None,
        )

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
