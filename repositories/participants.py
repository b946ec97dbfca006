"""The people of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import (
    CTE,
    Float,
    Insert,
    Integer,
    String,
    Table,
    Update,
    bindparam,
    case,
    column,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from repositories.base import Repository
from repositories.models import Participant

_TABLE = cast(Table, Participant.__table__)


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

    def set_person(
        self,
        participant: Participant,
        *,
        name: str,
        email: str | None,
        spoken_seconds: float | None,
        word_count: int | None,
    ) -> None:
        """Who a participant is (a name, an address) and how much they spoke."""
        participant.name = name
        participant.email = email
        participant.spoken_seconds = spoken_seconds
        participant.word_count = word_count
        # Flushed now: a row deleted just before may have held the name (a unique key).
        self.session.flush()

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


# PostgreSQL's one-statement stage writes (ConversationRepository): the people's rows written
# for the conversations a CTE returns (its `id`).


def names_insert_selected(conversations: CTE) -> Insert:
    """People known only by name, from the parameter `speakers` (a list of names)."""
    names = (
        func.unnest(bindparam("speakers", type_=ARRAY(String)))
        .table_valued("name")
        .render_derived(name="speakers")
    )
    return insert(_TABLE).from_select(
        ["id", "conversation_id", "name"],
        select(func.gen_random_uuid(), conversations.c.id, names.c.name).select_from(
            conversations.join(names, true())
        ),
        include_defaults=False,
    )


def speaking_parameters(spoken: Mapping[str, tuple[float, int]]) -> dict[str, Any]:
    """The parameter of `speaking_update_selected`: `record_speaking`'s `spoken`."""
    return {
        "speaking": [
            {"name": name, "seconds": seconds, "words": words}
            for name, (seconds, words) in spoken.items()
        ]
    }


def speaking_update_selected(conversations: CTE) -> Update:
    """`record_speaking` as one UPDATE whose values come as one JSON parameter: the statement
    is the same whoever spoke, so it is built once."""
    speaking = (
        func.jsonb_to_recordset(bindparam("speaking", type_=JSONB))
        .table_valued(column("name", String), column("seconds", Float), column("words", Integer))
        .render_derived(name="spoken", with_types=True)
    )

    def spoken(value: Any) -> Any:
        return select(value).where(speaking.c.name == _TABLE.c.name).scalar_subquery()

    return (
        update(_TABLE)
        .where(_TABLE.c.conversation_id.in_(select(conversations.c.id)))
        .values(spoken_seconds=spoken(speaking.c.seconds), word_count=spoken(speaking.c.words))
    )
