"""The notes of a conversation."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import CTE, Delete, Insert, Table, bindparam, delete, insert, select

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

    def set_action_items(self, conversation_id: uuid.UUID, items: list[Any]) -> None:
        """Replace the notes' action items (owners corrected), the rest of the notes kept."""
        self.update_where(Synthesis.conversation_id == conversation_id, action_items=items)

    def delete_for_conversation(self, conversation_id: uuid.UUID) -> None:
        """Drop notes a new transcript has made stale."""
        self.session.execute(
            delete(Synthesis)
            .where(Synthesis.conversation_id == conversation_id)
            .execution_options(synchronize_session=False)
        )


_TABLE = cast(Table, Synthesis.__table__)
# Built once; the columns a call leaves out get their defaults (id, created_at, ...).
_INSERT = insert(_TABLE)


# PostgreSQL's one-statement synthesis (ConversationRepository.release_with_notes): the
# notes written for the conversation a CTE returns (its `id`).


def notes_parameters(values: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of `notes_insert_selected` for `add_for_conversation`'s `values`, with the
    Python-side defaults of the columns they leave out (an INSERT ... SELECT renders none);
    the columns with a server-side default get that."""
    row = dict(values)
    for name, column in _TABLE.columns.items():
        default = column.default
        if name in row or default is None or column.server_default is not None:
            continue
        if default.is_scalar:
            row[name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            row[name] = default.arg(None)  # type: ignore[attr-defined]
    return {f"notes_{name}": value for name, value in row.items()}


def notes_insert_selected(conversations: CTE, names: tuple[str, ...]) -> Insert:
    """The notes' INSERT, of the columns `names` (from `notes_parameters`), returning its id."""
    return (
        insert(_TABLE)
        .from_select(
            ["conversation_id", *names],
            select(
                conversations.c.id,
                *(bindparam(f"notes_{name}", type_=_TABLE.c[name].type) for name in names),
            ),
            include_defaults=False,
        )
        .returning(_TABLE.c.id)
    )


def notes_delete_selected(conversations: CTE) -> Delete:
    """Notes a new transcript has made stale."""
    return delete(_TABLE).where(_TABLE.c.conversation_id.in_(select(conversations.c.id)))
