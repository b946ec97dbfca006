"""Action items followed across meetings."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from repositories.base import Repository
from repositories.models import ActionItem, ActionItemState, Conversation


@dataclass(frozen=True, slots=True)
class NewActionItem:
    """One item of a meeting's notes, as the follow-up step derives it."""

    id: uuid.UUID
    position: int
    key: str
    text: str
    owner_name: str | None
    owner_key: str | None
    owner_name_key: str | None
    due: str | None
    due_date: date | None


@dataclass(frozen=True, slots=True)
class FollowedItem:
    """An item with its meeting: what `minutes actions` lists and the graph mirrors."""

    id: uuid.UUID
    conversation_id: uuid.UUID
    meeting_title: str | None
    meeting_date: datetime
    text: str
    owner_name: str | None
    owner_key: str | None
    owner_name_key: str | None
    due: str | None
    due_date: date | None
    state: ActionItemState
    closed_in_id: uuid.UUID | None
    closed_at: datetime | None
    closing_quote: str | None
    carried_over_from_id: uuid.UUID | None
    carried_over_to_id: uuid.UUID | None


def meeting_date() -> ColumnElement[datetime]:
    """When a meeting took place: its start, else when it was handed in."""
    return func.coalesce(Conversation.started_at, Conversation.created_at)


# What new notes write of an item: all of it on a new one, and on one they keep, whose
# state and links stay.
_ITEM_FIELDS = (
    "position",
    "key",
    "text",
    "owner_name",
    "owner_key",
    "owner_name_key",
    "due",
    "due_date",
)

# The key of the PostgreSQL advisory lock a follow-up holds until its transaction ends
# ("minutes:" in ASCII, then 2): any number no other advisory lock of this database uses.
FOLLOW_UP_LOCK_KEY = 0x6D696E7574657302


class ActionItemRepository(Repository[ActionItem]):
    model = ActionItem

    def lock_for_follow_up(self) -> None:
        """Wait until no other transaction follows items up, then hold that until this one
        ends.

        Two meetings completing together could otherwise both carry over the same earlier
        item (one of them failing on the unique link). After the wait this transaction's
        reads see what the other committed.
        """
        self.advisory_xact_lock(FOLLOW_UP_LOCK_KEY)

    def replace_for_conversation(
        self, conversation_id: uuid.UUID, items: Sequence[NewActionItem]
    ) -> None:
        """The meeting's items become `items`: those kept (same id) keep their state, and
        which earlier item each carries over is left for the caller to set again.

        Two statements whatever the count: a DELETE of the items gone, and one INSERT of
        them all whose conflicts (the items kept) update in place."""
        self.execute(
            delete(self.table).where(
                self.table.c.conversation_id == conversation_id,
                self.table.c.id.not_in([item.id for item in items]),
            )
        )
        if not items:
            return
        insert = (pg_insert if self.scope.dialect == "postgresql" else sqlite_insert)(self.table)
        rows = [
            {
                "id": item.id,
                "conversation_id": conversation_id,
                **{name: getattr(item, name) for name in _ITEM_FIELDS},
                "state": ActionItemState.OPEN,
                "carried_over_from_id": None,
            }
            for item in items
        ]
        kept = [*_ITEM_FIELDS, "carried_over_from_id"]
        self.execute(
            insert.values(rows).on_conflict_do_update(
                index_elements=[self.table.c.id],
                set_={name: insert.excluded[name] for name in kept},
            )
        )

    def reopen_closed_in(self, conversation_id: uuid.UUID) -> set[uuid.UUID]:
        """Items this meeting had reported done open again (its notes are being followed up
        anew); the meetings they belong to."""
        statement = (
            update(ActionItem)
            .where(ActionItem.closed_in_id == conversation_id)
            .values(
                state=ActionItemState.OPEN, closed_in_id=None, closed_at=None, closing_quote=None
            )
            .returning(ActionItem.conversation_id)
        )
        return set(self.session.scalars(statement))

    def open_before(
        self, conversation_id: uuid.UUID, *, owner_keys: Collection[str], name_keys: Collection[str]
    ) -> list[FollowedItem]:
        """Open items of meetings held before this one, owed by these people, that no other
        meeting's item carries over yet: what this meeting may close or carry over."""
        parameters = {
            "conversation_id": conversation_id,
            "owner_keys": list(owner_keys),
            "name_keys": list(name_keys),
        }
        return [
            FollowedItem(**row._mapping) for row in self.session.execute(_open_before(), parameters)
        ]

    def linked_conversations(self, conversation_id: uuid.UUID) -> set[uuid.UUID]:
        """The other meetings whose items this meeting's items repeat, are repeated by, or
        that it reported done."""
        mine = select(ActionItem.id).where(ActionItem.conversation_id == conversation_id)
        repeated = select(ActionItem.carried_over_from_id).where(
            ActionItem.conversation_id == conversation_id
        )
        statement = (
            select(ActionItem.conversation_id)
            .distinct()
            .where(
                ActionItem.conversation_id != conversation_id,
                or_(
                    ActionItem.closed_in_id == conversation_id,
                    ActionItem.carried_over_from_id.in_(mine),
                    ActionItem.id.in_(repeated),
                ),
            )
        )
        return set(self.session.scalars(statement))

    def carry_over(self, earlier: uuid.UUID, later: uuid.UUID) -> None:
        self.update_where(ActionItem.id == later, carried_over_from_id=earlier)

    def close(
        self, id: uuid.UUID, *, closed_in: uuid.UUID, at: datetime, quote: str
    ) -> set[uuid.UUID]:
        """Marks an item done, and the items it carries over (the same task): the meetings
        they belong to."""
        chain = [id]
        while (
            earlier := self.session.scalar(
                select(ActionItem.carried_over_from_id).where(ActionItem.id == chain[-1])
            )
        ) is not None and earlier not in chain:
            chain.append(earlier)
        statement = (
            update(ActionItem)
            .where(ActionItem.id.in_(chain), ActionItem.state == ActionItemState.OPEN)
            .values(
                state=ActionItemState.DONE,
                closed_in_id=closed_in,
                closed_at=at,
                closing_quote=quote,
            )
            .returning(ActionItem.conversation_id)
        )
        return set(self.session.scalars(statement))

    def list_followed(
        self,
        *,
        conversation_ids: Collection[uuid.UUID] | None = None,
        owner: str | None = None,
    ) -> list[FollowedItem]:
        """Items across meetings, oldest meeting first; `owner` a person key or a
        normalized name."""
        criteria: list[ColumnElement[bool]] = []
        if conversation_ids is not None:
            criteria.append(ActionItem.conversation_id.in_(conversation_ids))
        if owner is not None:
            criteria.append(
                or_(
                    ActionItem.owner_key == owner,
                    ActionItem.owner_name_key == owner,
                    ActionItem.owner_name_key.startswith(f"{owner} ", autoescape=True),
                )
            )
        return self._followed(*criteria)

    def _followed(self, *criteria: ColumnElement[bool]) -> list[FollowedItem]:
        return [
            FollowedItem(**row._mapping)
            for row in self.session.execute(_followed_statement(*criteria))
        ]


def _followed_statement(*criteria: ColumnElement[bool]) -> Select[*tuple[Any, ...]]:
    successor = aliased(ActionItem)
    return (
        select(
            ActionItem.id,
            ActionItem.conversation_id,
            Conversation.title.label("meeting_title"),
            meeting_date().label("meeting_date"),
            ActionItem.text,
            ActionItem.owner_name,
            ActionItem.owner_key,
            ActionItem.owner_name_key,
            ActionItem.due,
            ActionItem.due_date,
            ActionItem.state,
            ActionItem.closed_in_id,
            ActionItem.closed_at,
            ActionItem.closing_quote,
            ActionItem.carried_over_from_id,
            successor.id.label("carried_over_to_id"),
        )
        .join(Conversation, Conversation.id == ActionItem.conversation_id)
        .outerjoin(successor, successor.carried_over_from_id == ActionItem.id)
        .where(*criteria)
        .order_by(meeting_date(), ActionItem.conversation_id, ActionItem.position)
    )


@cache
def _open_before() -> Select[*tuple[Any, ...]]:
    """`open_before`'s statement, built once: building its aliases costs more CPU than
    running it (a follow-up runs it for every meeting)."""
    conversation_id = bindparam("conversation_id", type_=ActionItem.conversation_id.type)
    this = aliased(Conversation)
    successor = aliased(ActionItem)
    later_repeat = (
        select(successor.id)
        .where(
            successor.carried_over_from_id == ActionItem.id,
            successor.conversation_id != conversation_id,
        )
        .exists()
    )
    this_date = (
        select(func.coalesce(this.started_at, this.created_at))
        .where(this.id == conversation_id)
        .scalar_subquery()
    )
    return _followed_statement(
        ActionItem.state == ActionItemState.OPEN,
        ActionItem.conversation_id != conversation_id,
        meeting_date() < this_date,
        or_(
            ActionItem.owner_key.in_(bindparam("owner_keys", expanding=True)),
            ActionItem.owner_name_key.in_(bindparam("name_keys", expanding=True)),
        ),
        ~later_repeat,
    )
